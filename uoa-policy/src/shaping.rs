//! Bandwidth per user: rates as `tc` writes them, what a rate and a ceiling
//! may be, and the HTB class layout UOA keeps on a shaped interface.
//!
//! On each shaped interface (and on the IFB that holds its download) UOA
//! keeps one HTB with handle [`HTB_MAJOR`]`:`: a root class with the link's
//! rate ([`ROOT_MINOR`]), a default class for everyone else
//! ([`DEFAULT_MINOR`]) and one class per shaped uid below the root. A uid's
//! class minor is the same on every interface, so the module can name it in
//! `skb->priority` at LOCAL_OUT without knowing the interface (HTB then
//! takes the class without running a filter).

use core::fmt;

/// The major of every HTB UOA makes (`a0a:` in `tc` output): one that
/// administrators' own layouts (`1:`, `10:`, `ffff:`) do not use.
pub const HTB_MAJOR: u16 = 0xa0a;
/// The class holding the link's rate, parent of all others.
pub const ROOT_MINOR: u16 = 0xfffe;
/// The class of packets no uid class claims (root, unmanaged users).
pub const DEFAULT_MINOR: u16 = 0xffff;
/// Minors a uid's class may have: 1 up to below [`ROOT_MINOR`].
pub const MAX_UID_MINOR: u16 = ROOT_MINOR - 1;

/// A link whose speed the kernel does not know counts as 10 Gbit/s.
pub const UNKNOWN_LINK: u64 = 10_000_000_000 / 8;

/// `major:minor` as one number, as tc and `skb->priority` hold it.
pub const fn class_id(major: u16, minor: u16) -> u32 {
    ((major as u32) << 16) | minor as u32
}

/// A uid's class on UOA's HTBs.
pub const fn uid_class(minor: u16) -> u32 {
    class_id(HTB_MAJOR, minor)
}

/// The minor of `class` if it is a uid's class on UOA's HTBs.
pub fn uid_minor(class: u32) -> Option<u16> {
    let (major, minor) = ((class >> 16) as u16, class as u16);
    (major == HTB_MAJOR && (1..=MAX_UID_MINOR).contains(&minor)).then_some(minor)
}

/// May a uid's packets be given `class` (`UOA_A_CLASS`)? 0 (none), or a
/// class proper: minor 0 names a qdisc, major 0 nothing, `ffff:` ingress.
pub fn class_ok(class: u32) -> bool {
    let (major, minor) = (class >> 16, class & 0xffff);
    class == 0 || (major != 0 && major != 0xffff && minor != 0)
}

/// The minor for a uid newly shaped: the uid itself when it fits and is
/// free (so `tc class show` reads `a0a:3f3` for uid 1011), else the lowest
/// free one. `taken` says which minors other uids hold.
pub fn pick_minor(uid: u32, taken: impl Fn(u16) -> bool) -> Option<u16> {
    if let Ok(m) = u16::try_from(uid) {
        if (1..=MAX_UID_MINOR).contains(&m) && !taken(m) {
            return Some(m);
        }
    }
    (1..=MAX_UID_MINOR).find(|&m| !taken(m))
}

/// A set of taken minors, for picking minors for many uids at once in
/// linear time: [`Minors::take`] picks as [`pick_minor`] does.
pub struct Minors {
    bits: [u64; 1024],
    /// Every minor below this one is taken.
    low: u16,
}

impl Default for Minors {
    fn default() -> Self {
        Minors {
            bits: [0; 1024],
            low: 1,
        }
    }
}

impl Minors {
    pub fn insert(&mut self, m: u16) {
        self.bits[usize::from(m >> 6)] |= 1u64 << (m & 63);
    }

    pub fn contains(&self, m: u16) -> bool {
        self.bits[usize::from(m >> 6)] & (1u64 << (m & 63)) != 0
    }

    /// Picks and takes a minor for `uid`.
    pub fn take(&mut self, uid: u32) -> Option<u16> {
        let own = u16::try_from(uid)
            .ok()
            .filter(|m| (1..=MAX_UID_MINOR).contains(m) && !self.contains(*m));
        let m = match own {
            Some(m) => m,
            None => {
                while self.low <= MAX_UID_MINOR && self.contains(self.low) {
                    self.low += 1;
                }
                if self.low > MAX_UID_MINOR {
                    return None;
                }
                self.low
            }
        };
        self.insert(m);
        Some(m)
    }
}

/// Why a rate or a shape was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateError {
    /// Not a number followed by a known unit.
    Syntax,
    /// Below 8 bit/s (one byte a second).
    TooLow,
    /// More than [`MAX_RATE`].
    TooHigh,
    /// A ceiling below the guaranteed rate.
    CeilBelowRate { rate: u64, ceil: u64 },
    /// A rate or ceiling above the link's speed.
    AboveLink { rate: u64, link: u64 },
}

/// The most a rate may be: 4 Tbit/s, far above any link.
pub const MAX_RATE: u64 = 4_000_000_000_000 / 8;

impl fmt::Display for RateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RateError::Syntax => f.write_str(
                "want a number and a unit: bit, kbit, mbit, gbit, tbit (bits/s), \
                 bps, kbps, mbps, gbps (bytes/s), or kibit, mibit, gibit, kibps, mibps, gibps",
            ),
            RateError::TooLow => f.write_str("below 8bit (one byte a second)"),
            RateError::TooHigh => f.write_str("above 4tbit"),
            RateError::CeilBelowRate { rate, ceil } => {
                write!(f, "ceil {} is below the rate {}", Rate(ceil), Rate(rate))
            }
            RateError::AboveLink { rate, link } => {
                write!(f, "{} is above the link's {}", Rate(rate), Rate(link))
            }
        }
    }
}

/// A rate in bytes a second, displayed as `tc` takes it (`10mbit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate(pub u64);

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = self.0.saturating_mul(8);
        for (unit, scale) in [
            ("tbit", 1_000_000_000_000u64),
            ("gbit", 1_000_000_000),
            ("mbit", 1_000_000),
            ("kbit", 1_000),
        ] {
            if bits >= scale && bits.checked_rem(scale) == Some(0) {
                return write!(f, "{}{unit}", bits / scale);
            }
        }
        write!(f, "{bits}bit")
    }
}

/// Units of a rate and their bits a second, as `tc` spells them (any case).
const UNITS: [(&str, u64); 19] = [
    ("", 1),
    ("bit", 1),
    ("kbit", 1_000),
    ("mbit", 1_000_000),
    ("gbit", 1_000_000_000),
    ("tbit", 1_000_000_000_000),
    ("kibit", 1 << 10),
    ("mibit", 1 << 20),
    ("gibit", 1 << 30),
    ("tibit", 1 << 40),
    ("bps", 8),
    ("kbps", 8_000),
    ("mbps", 8_000_000),
    ("gbps", 8_000_000_000),
    ("tbps", 8_000_000_000_000),
    ("kibps", 8 << 10),
    ("mibps", 8 << 20),
    ("gibps", 8 << 30),
    ("tibps", 8 << 40),
];

/// Parses a rate as `tc` does (`10mbit`, `1.5gbit`, `500kbps`, a bare
/// number being bits/s; up to six decimals) into bytes a second.
pub fn parse_rate(s: &str) -> Result<u64, RateError> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let per_unit = UNITS
        .iter()
        .find(|(u, _)| u.eq_ignore_ascii_case(unit))
        .map(|&(_, b)| b)
        .ok_or(RateError::Syntax)?;
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') || frac.len() > 6 {
        return Err(RateError::Syntax);
    }
    let digits = |d: &str| -> Result<u64, RateError> {
        match d {
            "" => Ok(0),
            d => d.parse::<u64>().map_err(|_| RateError::TooHigh),
        }
    };
    // Whole units, then the fraction's share (frac < 10^6, so no overflow).
    let scale = 10u64.pow(frac.len() as u32);
    let bits = digits(int)?
        .checked_mul(per_unit)
        .and_then(|b| b.checked_add(digits(frac).ok()? * per_unit / scale))
        .ok_or(RateError::TooHigh)?;
    if bits < 8 {
        return Err(RateError::TooLow);
    }
    match bits / 8 {
        b if b > MAX_RATE => Err(RateError::TooHigh),
        b => Ok(b),
    }
}

/// A guaranteed rate and the ceiling it may borrow up to, bytes a second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub rate: u64,
    pub ceil: u64,
}

impl Shape {
    /// `rate` with an optional `ceil` (none: the rate, no borrowing) on a
    /// link of `link` bytes a second.
    pub fn new(rate: u64, ceil: Option<u64>, link: u64) -> Result<Shape, RateError> {
        let ceil = ceil.unwrap_or(rate);
        if ceil < rate {
            return Err(RateError::CeilBelowRate { rate, ceil });
        }
        if rate > link {
            return Err(RateError::AboveLink { rate, link });
        }
        if ceil > link {
            return Err(RateError::AboveLink { rate: ceil, link });
        }
        Ok(Shape { rate, ceil })
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Rate(self.rate))?;
        if self.ceil != self.rate {
            write!(f, " ceil {}", Rate(self.ceil))?;
        }
        Ok(())
    }
}

/// A link's rate from its speed in Mbit/s as the kernel reports it
/// (`/sys/class/net/DEV/speed`; none or not positive: unknown).
pub fn link_rate(speed_mbit: Option<i64>) -> u64 {
    match speed_mbit {
        Some(s) if s > 0 => (s as u64).saturating_mul(125_000),
        _ => UNKNOWN_LINK,
    }
}

/// The default class's guaranteed rate: what the uids' rates leave of the
/// link, at least a hundredth of it; it may borrow up to the whole link.
pub fn default_rate(link: u64, uid_rates: u64) -> u64 {
    link.saturating_sub(uid_rates).max(link / 100).max(1)
}

/// The bytes a class may send at once: 10 ms at its rate, at least two
/// full-size frames (so a slow guest's late timer does not cost it rate).
pub fn burst(rate: u64) -> u32 {
    (rate / 100).clamp(3_028, u64::from(u32::MAX)) as u32
}

/// The bytes a class sends per turn when borrowing: proportional to its
/// rate, so idle bandwidth is shared in the proportions of the rates,
/// within the bounds HTB accepts without a warning.
pub fn quantum(rate: u64) -> u32 {
    (rate / 100).clamp(1_514, 200_000) as u32
}

/// The `skb->priority` a managed uid's packet gets at LOCAL_OUT: its class
/// (`0`: none), when the device it leaves through has a root qdisc with the
/// class's major (`root_handle`, `0`: none or no device). Elsewhere the
/// packet keeps its priority: a pfifo_fast or another HTB reads it too.
pub fn priority(class: u32, root_handle: u32) -> Option<u32> {
    (class != 0 && root_handle >> 16 == class >> 16).then_some(class)
}
