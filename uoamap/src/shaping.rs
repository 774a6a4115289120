//! Bandwidth per user (`uoamap rate`): the tc objects UOA keeps, read from
//! and written to the kernel over rtnetlink (never by running `tc`).
//!
//! Upload, per shaped interface DEV: a root HTB `a0a:` whose root class
//! `a0a:fffe` holds the link's rate, a default class `a0a:ffff` for everyone
//! else, and one class per shaped uid (the same minor on every interface).
//! The module writes a uid's class into `skb->priority` at LOCAL_OUT, so HTB
//! classifies without a filter.
//!
//! Download, per interface DEV shaped inbound: an IFB `in-DEV`, DEV's
//! ingress qdisc redirecting everything there (matchall + mirred), and on
//! the IFB the same HTB layout, a uid's packets found by flower filters on
//! their destination (one per entry of the uid; flower hashes them, so the
//! lookup does not grow with the number of uids).
//!
//! The kernel is the state: `show`, `save` and the diff of `apply` read the
//! classes back, and the module's uid->class map says whose each one is.

use crate::names;
use anyhow::{bail, Context, Result};
use neli::consts::{nl::NlmF, rtnl::Rtm};
use neli::rtnl::Tcmsg;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use uoa_genl::{Client, Counters, Entry};
use uoa_policy::shaping::{
    self, class_id, uid_class, uid_minor, Minors, Rate, RateError, Shape, DEFAULT_MINOR, HTB_MAJOR,
    ROOT_MINOR,
};
use uoa_rtnl::{tc, Rtnl};

/// Upload or download.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    Out,
    In,
}

impl Dir {
    pub fn word(self) -> &'static str {
        match self {
            Dir::Out => "out",
            Dir::In => "in",
        }
    }
}

/// A uid's shapes on one interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevShape {
    pub out: Option<Shape>,
    pub inn: Option<Shape>,
}

impl DevShape {
    pub fn get(&self, d: Dir) -> Option<Shape> {
        match d {
            Dir::Out => self.out,
            Dir::In => self.inn,
        }
    }

    fn slot(&mut self, d: Dir) -> &mut Option<Shape> {
        match d {
            Dir::Out => &mut self.out,
            Dir::In => &mut self.inn,
        }
    }

    fn is_empty(&self) -> bool {
        self.out.is_none() && self.inn.is_none()
    }
}

/// What is shaped: every uid's shapes, (uid, interface name) -> shapes, and
/// the link rates the administrator set where the kernel's speed of an
/// interface is not what its traffic can use (an uplink slower than the
/// NIC, a veth): (interface name, direction) -> bytes a second.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub shapes: BTreeMap<(u32, String), DevShape>,
    pub links: BTreeMap<(String, Dir), u64>,
}

impl Plan {
    /// The rate of `dev`'s link in direction `d`.
    fn link(&self, dev: &str, d: Dir) -> u64 {
        self.links
            .get(&(dev.to_string(), d))
            .copied()
            .unwrap_or_else(|| link_of(dev))
    }
}

/// What a `rate` line asks of one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    Keep,
    Clear,
    /// Rate and optional ceiling, bytes a second.
    Set(u64, Option<u64>),
}

/// `rate USER [dev IFACE] [out] RATE [ceil C] [in RATE [ceil C]]`, or with
/// `none`, `out none`, `in none`: as typed, names unresolved. Without USER
/// (`rate dev IFACE [out] RATE [in RATE]`): the link's own rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLine {
    pub user: Option<String>,
    pub dev: Option<String>,
    pub out: Ask,
    pub inn: Ask,
}

fn rate_word(w: &str) -> Result<u64> {
    shaping::parse_rate(w).map_err(|e| anyhow::anyhow!("rate {w:?}: {e}"))
}

impl RateLine {
    /// Parses the words after `rate`.
    pub fn parse(words: &[&str]) -> Result<Self> {
        let (user, mut rest) = match words.split_first() {
            Some((&"dev", _)) => (None, words),
            Some((u, rest)) => (Some(u.to_string()), rest),
            None => bail!("expected USER [dev IFACE] [out] RATE [ceil RATE] [in RATE [ceil RATE]]"),
        };
        let who = user.clone().unwrap_or_else(|| "the link".into());
        let mut dev = None;
        if let ["dev", d, tail @ ..] = rest {
            dev = Some(d.to_string());
            rest = tail;
        }
        if user.is_none() && dev.is_none() {
            bail!("a link's rate needs dev IFACE");
        }
        let (mut out, mut inn) = (Ask::Keep, Ask::Keep);
        if rest.is_empty() {
            bail!("say a rate, `in RATE` or `none` after {who}");
        }
        while let Some((&w, tail)) = rest.split_first() {
            let (dir, tail) = match w {
                "none" => {
                    (out, inn) = (Ask::Clear, Ask::Clear);
                    rest = tail;
                    continue;
                }
                "out" => (Dir::Out, tail),
                "in" => (Dir::In, tail),
                _ => (Dir::Out, rest),
            };
            let slot = if dir == Dir::Out { &mut out } else { &mut inn };
            if *slot != Ask::Keep {
                bail!("{} is given twice", dir.word());
            }
            rest = match tail {
                ["none", t @ ..] => {
                    *slot = Ask::Clear;
                    t
                }
                [_, "ceil", ..] if user.is_none() => bail!("a link has a rate, not a ceiling"),
                [r, "ceil", c, t @ ..] => {
                    *slot = Ask::Set(rate_word(r)?, Some(rate_word(c)?));
                    t
                }
                [_, "ceil"] => bail!("ceil needs a rate"),
                [r, t @ ..] => {
                    *slot = Ask::Set(rate_word(r)?, None);
                    t
                }
                [] => bail!("{} needs a rate", dir.word()),
            };
        }
        Ok(RateLine {
            user,
            dev,
            out,
            inn,
        })
    }
}

impl std::fmt::Display for RateLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rate")?;
        if let Some(u) = &self.user {
            write!(f, " {u}")?;
        }
        if let Some(d) = &self.dev {
            write!(f, " dev {d}")?;
        }
        for (dir, ask) in [(Dir::Out, self.out), (Dir::In, self.inn)] {
            match ask {
                Ask::Keep => {}
                Ask::Clear => write!(f, " {} none", dir.word())?,
                Ask::Set(r, c) => {
                    write!(f, " {} {}", dir.word(), Rate(r))?;
                    if let Some(c) = c {
                        write!(f, " ceil {}", Rate(c))?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The line that `save` writes for a uid's shapes on `dev`.
pub fn saved_line(uid: u32, dev: &str, s: &DevShape) -> RateLine {
    let ask = |x: Option<Shape>| {
        x.map_or(Ask::Keep, |s| {
            Ask::Set(s.rate, Some(s.ceil).filter(|&c| c != s.rate))
        })
    };
    RateLine {
        user: Some(names::user_name(uid)),
        dev: Some(dev.to_string()),
        out: ask(s.out),
        inn: ask(s.inn),
    }
}

/// The IFB that holds `dev`'s download.
pub fn ifb_name(dev: &str) -> Result<String> {
    let name = format!("in-{dev}");
    if name.len() > 15 {
        bail!("dev {dev}: its download device {name} would be longer than 15 characters");
    }
    Ok(name)
}

/// The link's rate (bytes/s) from the kernel's speed of `dev`.
fn link_of(dev: &str) -> u64 {
    let speed = std::fs::read_to_string(format!("/sys/class/net/{dev}/speed"))
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    shaping::link_rate(speed)
}

/// The managed uids and the interfaces their entries name, indexed once
/// so that a file of many `rate` lines is read in O(n log n).
#[derive(Default)]
pub struct Users(BTreeMap<u32, BTreeSet<u32>>);

impl Users {
    pub fn of(entries: &[Entry]) -> Self {
        let mut m: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
        for e in entries {
            let devs = m.entry(e.uid).or_default();
            if e.ifindex != 0 {
                devs.insert(e.ifindex);
            }
        }
        Users(m)
    }
}

/// Applies `line` to `plan` (the current shapes): the interfaces are the
/// one named, else those of the user's entries; every rate is checked
/// against the link before anything is changed.
pub fn amend(plan: &mut Plan, line: &RateLine, users: &Users) -> Result<()> {
    let Some(user) = &line.user else {
        let dev = line.dev.as_deref().unwrap_or_default();
        names::ifindex_of(dev)?;
        for (dir, ask) in [(Dir::Out, line.out), (Dir::In, line.inn)] {
            let key = (dev.to_string(), dir);
            match ask {
                Ask::Keep => {}
                Ask::Clear => {
                    plan.links.remove(&key);
                }
                Ask::Set(r, _) => {
                    plan.links.insert(key, r);
                }
            }
        }
        return Ok(());
    };
    let uid = names::uid_of(user)?;
    let Some(mine) = users.0.get(&uid) else {
        bail!("{user} is not managed: it has no entry (uoamap add first)");
    };
    let devs: Vec<String> = match &line.dev {
        Some(d) => {
            names::ifindex_of(d)?;
            vec![d.clone()]
        }
        None => {
            let set: BTreeSet<String> = mine.iter().filter_map(|&i| names::ifname(i)).collect();
            if set.is_empty() {
                bail!("{user}'s entries name no interface: say dev IFACE");
            }
            set.into_iter().collect()
        }
    };
    for dev in devs {
        let links = [plan.link(&dev, Dir::Out), plan.link(&dev, Dir::In)];
        let cur = plan.shapes.entry((uid, dev.clone())).or_default();
        for (dir, ask, link) in [
            (Dir::Out, line.out, links[0]),
            (Dir::In, line.inn, links[1]),
        ] {
            match ask {
                Ask::Keep => {}
                Ask::Clear => *cur.slot(dir) = None,
                Ask::Set(r, c) => {
                    if dir == Dir::In {
                        ifb_name(&dev)?;
                    }
                    let s = Shape::new(r, c, link).map_err(|e: RateError| {
                        anyhow::anyhow!("{user} dev {dev} {}: {e}", dir.word())
                    })?;
                    *cur.slot(dir) = Some(s);
                }
            }
        }
        if cur.is_empty() {
            plan.shapes.remove(&(uid, dev));
        }
    }
    Ok(())
}

/// One class as the kernel has it, with its counters.
#[derive(Clone, Debug, Serialize)]
pub struct ClassStats {
    pub uid: u32,
    pub dev: String,
    pub dir: Dir,
    pub class: String,
    pub rate: String,
    pub ceil: String,
    pub bytes: u64,
    pub packets: u64,
    pub dropped: u64,
    pub overlimits: u64,
}

impl std::fmt::Display for ClassStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dev {} {} class {} rate {} ceil {}: sent {} bytes {} pkts, dropped {}, overlimits {}",
            self.dev,
            self.dir.word(),
            self.class,
            self.rate,
            self.ceil,
            self.bytes,
            self.packets,
            self.dropped,
            self.overlimits
        )
    }
}

/// A device carrying one of UOA's HTBs.
#[derive(Clone, Debug)]
struct Shaped {
    ifindex: u32,
    /// The interface whose traffic it shapes (for an IFB, the one it
    /// takes the download of), and which way.
    dev: String,
    dir: Dir,
    classes: Vec<tc::ClassInfo>,
}

/// What the kernel holds now.
pub struct Current {
    pub plan: Plan,
    /// uid -> class, from the module.
    pub classes: BTreeMap<u32, u32>,
    shaped: Vec<Shaped>,
    /// Root qdiscs of every device: ifindex -> (handle, kind).
    roots: BTreeMap<u32, (u32, String)>,
    /// Devices with an ingress qdisc.
    ingress: BTreeSet<u32>,
}

impl Current {
    /// Every class of a managed uid, with its counters.
    pub fn stats(&self, uid: Option<u32>) -> Vec<ClassStats> {
        let owner: BTreeMap<u32, u32> = self.classes.iter().map(|(&u, &c)| (c, u)).collect();
        let mut out = Vec::new();
        for s in &self.shaped {
            for c in &s.classes {
                let Some(&u) = owner.get(&c.classid) else {
                    continue;
                };
                if uid.is_some_and(|x| x != u) {
                    continue;
                }
                out.push(ClassStats {
                    uid: u,
                    dev: s.dev.clone(),
                    dir: s.dir,
                    class: format!("{:x}:{:x}", c.classid >> 16, c.classid & 0xffff),
                    rate: Rate(c.rate).to_string(),
                    ceil: Rate(c.ceil).to_string(),
                    bytes: c.bytes,
                    packets: c.packets,
                    dropped: c.drops.into(),
                    overlimits: c.overlimits.into(),
                });
            }
        }
        out
    }
}

/// The rtnetlink side of shaping.
pub struct Shaper {
    rtnl: Rtnl,
}

const UOA_ROOT: u32 = class_id(HTB_MAJOR, 0);
const ROOT_CLASS: u32 = class_id(HTB_MAJOR, ROOT_MINOR);
const DEFAULT_CLASS: u32 = class_id(HTB_MAJOR, DEFAULT_MINOR);
/// The flower filters' priorities on an IFB: one per family.
const PRIO_V4: u16 = 1;
const PRIO_V6: u16 = 2;
/// The IFB's queue per class, in packets: a download class's backlog is
/// the sender's problem, not a second of delay.
const IFB_TXQLEN: u32 = 100;

impl Shaper {
    pub fn connect() -> Result<Self> {
        Ok(Shaper {
            rtnl: Rtnl::connect()?,
        })
    }

    /// Reads UOA's HTBs and classes, and whose each class is.
    pub fn read(&self, client: &Client) -> Result<Current> {
        self.read_with(&client.counters(None)?)
    }

    /// [`Shaper::read`] with every uid's counters already dumped.
    pub fn read_with(&self, counters: &[Counters]) -> Result<Current> {
        let classes: BTreeMap<u32, u32> = counters
            .iter()
            .filter_map(|c| Some((c.uid?, c.class?)))
            .collect();
        let owner: BTreeMap<u32, u32> = classes.iter().map(|(&u, &c)| (c, u)).collect();
        let qdiscs: Vec<Tcmsg> = self.rtnl.dump(Rtm::Getqdisc, &tc::qdisc_key(0, 0, 0)?)?;
        let mut roots = BTreeMap::new();
        let mut ingress = BTreeSet::new();
        let mut shaped = Vec::new();
        for m in &qdiscs {
            let q = tc::QdiscInfo::from_msg(m)?;
            if q.parent == tc::TC_H_INGRESS {
                ingress.insert(q.ifindex);
            }
            if q.parent != tc::TC_H_ROOT {
                continue;
            }
            roots.insert(q.ifindex, (q.handle, q.kind.clone()));
            if q.kind != "htb" || q.handle != UOA_ROOT {
                continue;
            }
            let name = names::ifname(q.ifindex).unwrap_or_else(|| q.ifindex.to_string());
            let (dev, dir) = match name.strip_prefix("in-") {
                Some(d) => (d.to_string(), Dir::In),
                None => (name, Dir::Out),
            };
            let class_msgs: Vec<Tcmsg> = self
                .rtnl
                .dump(Rtm::Gettclass, &tc::class_key(q.ifindex, 0)?)?;
            let classes = class_msgs
                .iter()
                .map(tc::ClassInfo::from_msg)
                .collect::<Result<Vec<_>, _>>()?;
            shaped.push(Shaped {
                ifindex: q.ifindex,
                dev,
                dir,
                classes,
            });
        }
        let mut plan = Plan::default();
        for s in &shaped {
            for c in &s.classes {
                if c.classid == ROOT_CLASS && c.rate != link_of(&s.dev) {
                    plan.links.insert((s.dev.clone(), s.dir), c.rate);
                }
                if let Some(&uid) = owner.get(&c.classid) {
                    let e = plan.shapes.entry((uid, s.dev.clone())).or_default();
                    *e.slot(s.dir) = Some(Shape {
                        rate: c.rate,
                        ceil: c.ceil,
                    });
                }
            }
        }
        Ok(Current {
            plan,
            classes,
            shaped,
            roots,
            ingress,
        })
    }

    /// Makes the kernel hold `wanted`: classes added, changed and removed,
    /// HTBs, IFBs and filters made or taken away as they are needed, the
    /// download filters following `entries`, the module's uid->class map
    /// last. Checks what it can before it changes anything.
    pub fn apply(
        &self,
        client: &Client,
        cur: &Current,
        wanted: &Plan,
        entries: &[Entry],
    ) -> Result<()> {
        // Classes: keep a uid's, give new ones theirs. A minor freed in this
        // run is not given again in it: its old uid's packets carry it until
        // the module forgets it, last.
        let uids: BTreeSet<u32> = wanted.shapes.keys().map(|(u, _)| *u).collect();
        let managed: BTreeSet<u32> = entries.iter().map(|e| e.uid).collect();
        let mut minors = Minors::default();
        for m in cur.classes.values().filter_map(|&c| uid_minor(c)) {
            minors.insert(m);
        }
        let mut class_of: BTreeMap<u32, u32> = BTreeMap::new();
        for &u in &uids {
            if !managed.contains(&u) {
                bail!("uid {u} is not managed: it has no entry");
            }
            let c = match cur
                .classes
                .get(&u)
                .copied()
                .filter(|&c| uid_minor(c).is_some())
            {
                Some(c) => c,
                None => uid_class(
                    minors
                        .take(u)
                        .context("no tc class is left: at most 65,533 users may be shaped")?,
                ),
            };
            class_of.insert(u, c);
        }
        // Per device and direction: what is wanted there.
        let mut per: BTreeMap<(String, Dir), Vec<(u32, Shape)>> = BTreeMap::new();
        for ((u, dev), s) in &wanted.shapes {
            for d in [Dir::Out, Dir::In] {
                if let Some(sh) = s.get(d) {
                    per.entry((dev.clone(), d)).or_default().push((*u, sh));
                }
            }
        }
        for s in &cur.shaped {
            per.entry((s.dev.clone(), s.dir)).or_default();
        }
        // An interface whose link rate is set keeps an HTB with no class.
        let linked = |dev: &String, dir: &Dir| wanted.links.contains_key(&(dev.clone(), *dir));
        for (dev, dir) in wanted.links.keys() {
            per.entry((dev.clone(), *dir)).or_default();
        }
        // Checks first: devices exist, their root qdisc is the kernel's or ours.
        for ((dev, dir), want) in &per {
            if want.is_empty() && !linked(dev, dir) {
                continue;
            }
            let ifindex = names::ifindex_of(dev)?;
            if *dir == Dir::Out {
                if let Some((h, kind)) = cur.roots.get(&ifindex) {
                    if *h != 0 && *h != UOA_ROOT {
                        bail!(
                            "dev {dev} has a root qdisc {kind} {:x}: that UOA did not make; \
                             UOA shapes only an interface whose root qdisc is the kernel's default",
                            h >> 16
                        );
                    }
                }
            } else {
                ifb_name(dev)?;
                if cur.ingress.contains(&ifindex)
                    && !cur.shaped.iter().any(|s| s.dev == *dev && s.dir == Dir::In)
                {
                    bail!("dev {dev} has an ingress qdisc that UOA did not make");
                }
            }
        }
        for ((dev, dir), want) in &per {
            let found = cur.shaped.iter().find(|s| s.dev == *dev && s.dir == *dir);
            match (want.is_empty() && !linked(dev, dir), found) {
                (true, None) => {}
                (true, Some(s)) => self.unshape(s)?,
                (false, _) => {
                    let target = match dir {
                        Dir::Out => names::ifindex_of(dev)?,
                        Dir::In => self.ensure_ifb(dev, cur)?,
                    };
                    let link = wanted.link(dev, *dir);
                    // A class with filters cannot go: stale filters first,
                    // new ones once their classes are there.
                    if *dir == Dir::In {
                        self.sync_filters(target, want, &class_of, entries, false)?;
                    }
                    self.shape(target, dev, link, found, want, &class_of)?;
                    if *dir == Dir::In {
                        self.sync_filters(target, want, &class_of, entries, true)?;
                    }
                }
            }
        }
        // The module last: a packet never names a class that is not there.
        for (&u, &c) in &class_of {
            if cur.classes.get(&u) != Some(&c) {
                client.set_class(u, c)?;
            }
        }
        for &u in cur.classes.keys() {
            if !class_of.contains_key(&u) && managed.contains(&u) {
                client.set_class(u, 0)?;
            }
        }
        Ok(())
    }

    /// The HTB on `ifindex` made (if missing) and its classes made `want`.
    fn shape(
        &self,
        ifindex: u32,
        dev: &str,
        link: u64,
        found: Option<&Shaped>,
        want: &[(u32, Shape)],
        class_of: &BTreeMap<u32, u32>,
    ) -> Result<()> {
        let ctx = || format!("shaping dev {dev}");
        let new = NlmF::CREATE | NlmF::REPLACE;
        if found.is_none() {
            self.rtnl
                .call(
                    Rtm::Newqdisc,
                    new,
                    &tc::htb_qdisc(ifindex, HTB_MAJOR, DEFAULT_MINOR)?,
                )
                .with_context(ctx)?;
        }
        let sum: u64 = want.iter().map(|(_, s)| s.rate).sum();
        let default = Shape {
            rate: shaping::default_rate(link, sum),
            ceil: link,
        };
        let have: BTreeMap<u32, &tc::ClassInfo> = found
            .map(|s| s.classes.iter().map(|c| (c.classid, c)).collect())
            .unwrap_or_default();
        let same = |id: u32, s: Shape| {
            have.get(&id)
                .is_some_and(|c| c.rate == s.rate && c.ceil == s.ceil)
        };
        let wanted_ids: BTreeSet<u32> = want
            .iter()
            .filter_map(|(u, _)| class_of.get(u).copied())
            .collect();
        // Removals first, so the default class's new rate fits.
        for &id in have.keys() {
            if uid_minor(id).is_some() && !wanted_ids.contains(&id) {
                self.rtnl
                    .call(Rtm::Deltclass, NlmF::empty(), &tc::class_key(ifindex, id)?)
                    .with_context(ctx)?;
            }
        }
        let whole = Shape {
            rate: link,
            ceil: link,
        };
        if !same(ROOT_CLASS, whole) {
            self.class(ifindex, ROOT_CLASS, tc::TC_H_ROOT, whole)
                .with_context(ctx)?;
        }
        if !same(DEFAULT_CLASS, default) {
            self.class(ifindex, DEFAULT_CLASS, ROOT_CLASS, default)
                .with_context(ctx)?;
        }
        for (u, s) in want {
            let id = class_of[u];
            if !same(id, *s) {
                self.class(ifindex, id, ROOT_CLASS, *s).with_context(ctx)?;
            }
        }
        Ok(())
    }

    fn class(&self, ifindex: u32, id: u32, parent: u32, s: Shape) -> Result<()> {
        let c = tc::HtbClass {
            rate: s.rate,
            ceil: s.ceil,
            burst: shaping::burst(s.rate),
            cburst: shaping::burst(s.ceil),
            quantum: shaping::quantum(s.rate),
            prio: 0,
        };
        self.rtnl.call(
            Rtm::Newtclass,
            NlmF::CREATE | NlmF::REPLACE,
            &tc::htb_class(ifindex, id, parent, &c)?,
        )?;
        Ok(())
    }

    /// Takes UOA's HTB off a device (its classes go with it); for a
    /// download, the ingress redirect and the IFB too.
    fn unshape(&self, s: &Shaped) -> Result<()> {
        match s.dir {
            Dir::Out => self
                .rtnl
                .call(
                    Rtm::Delqdisc,
                    NlmF::empty(),
                    &tc::qdisc_key(s.ifindex, tc::TC_H_ROOT, UOA_ROOT)?,
                )
                .with_context(|| format!("unshaping dev {}", s.dev))?,
            Dir::In => {
                if let Ok(i) = names::ifindex_of(&s.dev) {
                    self.rtnl
                        .call(
                            Rtm::Delqdisc,
                            NlmF::empty(),
                            &tc::qdisc_key(i, tc::TC_H_INGRESS, tc::INGRESS_HANDLE)?,
                        )
                        .with_context(|| format!("removing dev {}'s ingress redirect", s.dev))?;
                }
                self.rtnl
                    .call(Rtm::Dellink, NlmF::empty(), &tc::link_del(s.ifindex)?)
                    .with_context(|| format!("removing in-{}", s.dev))?;
            }
        }
        Ok(())
    }

    /// The IFB of `dev`'s download, made and fed if missing: its index.
    fn ensure_ifb(&self, dev: &str, cur: &Current) -> Result<u32> {
        let name = ifb_name(dev)?;
        let ifb = match names::ifindex_of(&name) {
            Ok(i) => i,
            Err(_) => {
                self.rtnl
                    .call(
                        Rtm::Newlink,
                        NlmF::CREATE | NlmF::EXCL,
                        &tc::ifb_link(&name, IFB_TXQLEN)?,
                    )
                    .with_context(|| format!("making {name}"))?;
                names::ifindex_of(&name)?
            }
        };
        let dev_index = names::ifindex_of(dev)?;
        if !cur.ingress.contains(&dev_index) {
            self.rtnl
                .call(
                    Rtm::Newqdisc,
                    NlmF::CREATE | NlmF::EXCL,
                    &tc::ingress_qdisc(dev_index)?,
                )
                .with_context(|| format!("adding dev {dev}'s ingress qdisc"))?;
            self.rtnl
                .call(
                    Rtm::Newtfilter,
                    NlmF::CREATE | NlmF::EXCL,
                    &tc::redirect_all(dev_index, ifb)?,
                )
                .with_context(|| format!("redirecting dev {dev}'s download to {name}"))?;
        }
        Ok(ifb)
    }

    /// The flower filters on an IFB made those of `want`'s uids' entries:
    /// the others removed, and with `add` the missing ones added.
    fn sync_filters(
        &self,
        ifb: u32,
        want: &[(u32, Shape)],
        class_of: &BTreeMap<u32, u32>,
        entries: &[Entry],
        add: bool,
    ) -> Result<()> {
        let shaped: BTreeSet<u32> = want.iter().map(|(u, _)| *u).collect();
        let wanted: BTreeSet<(std::net::IpAddr, u8, u32)> = entries
            .iter()
            .filter(|e| shaped.contains(&e.uid))
            .map(|e| (uoa_rtnl::ip_of(&e.prefix), e.prefix.len(), class_of[&e.uid]))
            .collect();
        let msgs: Vec<Tcmsg> = self
            .rtnl
            .dump(Rtm::Gettfilter, &tc::filter_key(ifb, UOA_ROOT, 0, 0, 0)?)?;
        let mut have = BTreeSet::new();
        for m in &msgs {
            let f = tc::FilterInfo::from_msg(m)?;
            // A dump lists each filter's chain head too (no handle).
            if f.handle == 0 {
                continue;
            }
            match (f.dst, f.classid) {
                (Some((a, l)), Some(c)) if wanted.contains(&(a, l, c)) => {
                    have.insert((a, l, c));
                }
                _ => self.rtnl.call(
                    Rtm::Deltfilter,
                    NlmF::empty(),
                    &tc::filter_key(ifb, UOA_ROOT, f.prio, f.protocol, f.handle)?,
                )?,
            }
        }
        if !add {
            return Ok(());
        }
        for &(a, l, c) in wanted.difference(&have) {
            let prio = if a.is_ipv4() { PRIO_V4 } else { PRIO_V6 };
            self.rtnl
                .call(
                    Rtm::Newtfilter,
                    NlmF::CREATE | NlmF::EXCL,
                    &tc::flower_dst(ifb, UOA_ROOT, prio, a, l, c)?,
                )
                .with_context(|| format!("adding the download filter for {a}/{l}"))?;
        }
        Ok(())
    }
}

/// After the entries changed: classes of uids that are gone go, download
/// filters follow the entries. Costs one qdisc dump when nothing is shaped.
pub fn follow_entries(client: &Client) -> Result<()> {
    let s = Shaper::connect()?;
    let cur = s.read(client)?;
    if cur.shaped.is_empty() {
        return Ok(());
    }
    let entries = client.entries(None)?;
    s.apply(client, &cur, &cur.plan.clone(), &entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<RateLine> {
        RateLine::parse(&s.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn rate_lines_take_tc_words() {
        let l = parse("u11 dev eth0 10mbit ceil 50mbit in 20mbit").unwrap();
        assert_eq!(l.user.as_deref(), Some("u11"));
        assert_eq!(l.dev.as_deref(), Some("eth0"));
        assert_eq!(l.out, Ask::Set(1_250_000, Some(6_250_000)));
        assert_eq!(l.inn, Ask::Set(2_500_000, None));
        assert_eq!(
            l.to_string(),
            "rate u11 dev eth0 out 10mbit ceil 50mbit in 20mbit"
        );
        assert_eq!(parse(&l.to_string()["rate ".len()..]).unwrap(), l);
        let l = parse("u11 in 1mbit ceil 2mbit").unwrap();
        assert_eq!(
            (l.dev, l.out, l.inn),
            (None, Ask::Keep, Ask::Set(125_000, Some(250_000)))
        );
        let l = parse("u11 none").unwrap();
        assert_eq!((l.out, l.inn), (Ask::Clear, Ask::Clear));
        let l = parse("u11 dev eth0 in none").unwrap();
        assert_eq!((l.out, l.inn), (Ask::Keep, Ask::Clear));
    }

    #[test]
    fn bad_rate_lines_say_what_is_wrong() {
        let e = |s: &str| parse(s).unwrap_err().to_string();
        assert!(e("u11").contains("say a rate"), "{}", e("u11"));
        assert!(e("u11 10mb").contains("rate \"10mb\": want a number and a unit"));
        assert!(e("u11 out 1mbit out 2mbit").contains("out is given twice"));
        assert!(e("u11 in").contains("in needs a rate"));
        assert!(e("u11 1mbit ceil").contains("ceil needs a rate"));
    }

    #[test]
    fn a_link_has_a_rate_and_no_ceiling() {
        let l = parse("dev va 12mbit in 20mbit").unwrap();
        assert_eq!(
            (l.user, l.out, l.inn),
            (None, Ask::Set(1_500_000, None), Ask::Set(2_500_000, None))
        );
        assert!(parse("dev va 12mbit ceil 20mbit")
            .unwrap_err()
            .to_string()
            .contains("not a ceiling"));
    }

    #[test]
    fn saved_lines_leave_out_a_ceiling_equal_to_the_rate() {
        let s = DevShape {
            out: Some(Shape {
                rate: 1_250_000,
                ceil: 1_250_000,
            }),
            inn: Some(Shape {
                rate: 125_000,
                ceil: 250_000,
            }),
        };
        let l = saved_line(4_000_000_000, "eth0", &s);
        assert_eq!(
            l.to_string(),
            "rate 4000000000 dev eth0 out 10mbit in 1mbit ceil 2mbit"
        );
    }

    #[test]
    fn download_devices_have_room_for_their_name() {
        assert_eq!(ifb_name("eth0").unwrap(), "in-eth0");
        assert!(ifb_name("averylongname0")
            .unwrap_err()
            .to_string()
            .contains("15 characters"));
    }
}
