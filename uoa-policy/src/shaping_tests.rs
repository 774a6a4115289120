//! Rates, shapes and class ids, against the values `tc` uses.

use super::shaping::*;
use proptest::prelude::*;

#[test]
fn rates_parse_in_tc_units() {
    assert_eq!(parse_rate("10mbit"), Ok(1_250_000));
    assert_eq!(parse_rate("10Mbit"), Ok(1_250_000));
    assert_eq!(parse_rate("1.5mbit"), Ok(187_500));
    assert_eq!(parse_rate("64000"), Ok(8_000));
    assert_eq!(parse_rate("8bit"), Ok(1));
    assert_eq!(parse_rate("1gbit"), Ok(125_000_000));
    assert_eq!(parse_rate("500kbps"), Ok(500_000));
    assert_eq!(parse_rate("1mibit"), Ok(131_072));
    assert_eq!(parse_rate("2mibps"), Ok(2 * 1_048_576));
    assert_eq!(parse_rate(".5mbit"), Ok(62_500));
    assert_eq!(parse_rate("4tbit"), Ok(MAX_RATE));
}

#[test]
fn bad_rates_say_why() {
    assert_eq!(parse_rate("10mb"), Err(RateError::Syntax));
    assert_eq!(parse_rate("mbit"), Err(RateError::Syntax));
    assert_eq!(parse_rate(""), Err(RateError::Syntax));
    assert_eq!(parse_rate("-1mbit"), Err(RateError::Syntax));
    assert_eq!(parse_rate("1.2.3mbit"), Err(RateError::Syntax));
    assert_eq!(parse_rate("1.1234567mbit"), Err(RateError::Syntax));
    assert_eq!(parse_rate("7bit"), Err(RateError::TooLow));
    assert_eq!(parse_rate("0"), Err(RateError::TooLow));
    assert_eq!(parse_rate("5tbit"), Err(RateError::TooHigh));
    assert_eq!(
        parse_rate("99999999999999999999999bit"),
        Err(RateError::TooHigh)
    );
    assert!(RateError::Syntax.to_string().contains("mbit"));
}

#[test]
fn rates_display_as_tc_takes_them() {
    assert_eq!(Rate(1_250_000).to_string(), "10mbit");
    assert_eq!(Rate(187_500).to_string(), "1500kbit");
    assert_eq!(Rate(125_000_000).to_string(), "1gbit");
    assert_eq!(Rate(1).to_string(), "8bit");
    assert_eq!(Rate(131_072).to_string(), "1048576bit");
}

proptest! {
    #[test]
    fn a_displayed_rate_parses_back(bytes in 1u64..=MAX_RATE) {
        prop_assert_eq!(parse_rate(&Rate(bytes).to_string()), Ok(bytes));
    }
}

#[test]
fn a_shape_keeps_ceil_at_or_above_rate_and_within_the_link() {
    let link = 1_250_000_000; // 10gbit
    assert_eq!(
        Shape::new(1_250_000, None, link),
        Ok(Shape {
            rate: 1_250_000,
            ceil: 1_250_000
        })
    );
    assert_eq!(
        Shape::new(1_250_000, Some(6_250_000), link),
        Ok(Shape {
            rate: 1_250_000,
            ceil: 6_250_000
        })
    );
    assert_eq!(
        Shape::new(6_250_000, Some(1_250_000), link),
        Err(RateError::CeilBelowRate {
            rate: 6_250_000,
            ceil: 1_250_000
        })
    );
    assert_eq!(
        Shape::new(1_250_000, Some(2 * link), link),
        Err(RateError::AboveLink {
            rate: 2 * link,
            link
        })
    );
    assert_eq!(
        Shape::new(2 * link, None, link),
        Err(RateError::AboveLink {
            rate: 2 * link,
            link
        })
    );
    assert_eq!(
        RateError::CeilBelowRate {
            rate: 6_250_000,
            ceil: 1_250_000
        }
        .to_string(),
        "ceil 10mbit is below the rate 50mbit"
    );
    assert_eq!(
        RateError::AboveLink {
            rate: 2 * link,
            link
        }
        .to_string(),
        "20gbit is above the link's 10gbit"
    );
    assert_eq!(
        Shape {
            rate: 1_250_000,
            ceil: 6_250_000
        }
        .to_string(),
        "10mbit ceil 50mbit"
    );
    assert_eq!(
        Shape {
            rate: 1_250_000,
            ceil: 1_250_000
        }
        .to_string(),
        "10mbit"
    );
}

#[test]
fn class_ids_are_uoas_or_refused() {
    assert_eq!(uid_class(0x3f3), 0x0a0a_03f3);
    assert_eq!(uid_minor(0x0a0a_03f3), Some(0x3f3));
    assert_eq!(uid_minor(class_id(HTB_MAJOR, ROOT_MINOR)), None);
    assert_eq!(uid_minor(class_id(HTB_MAJOR, DEFAULT_MINOR)), None);
    assert_eq!(uid_minor(class_id(1, 0x3f3)), None);
    assert_eq!(uid_minor(class_id(HTB_MAJOR, 0)), None);
    assert!(class_ok(0));
    assert!(class_ok(uid_class(1)));
    assert!(!class_ok(class_id(HTB_MAJOR, 0)));
    assert!(!class_ok(class_id(0, 5)));
    assert!(!class_ok(class_id(0xffff, 5)));
}

#[test]
fn a_uid_gets_its_own_number_as_minor_when_it_can() {
    let mut m = Minors::default();
    assert_eq!(m.take(1011), Some(1011));
    // Taken already: the lowest free one.
    assert_eq!(m.take(1011), Some(1));
    // Too big for a minor (65534 is ROOT_MINOR's neighbour, 70000 too big).
    assert_eq!(m.take(70_000), Some(2));
    assert_eq!(m.take(u32::from(ROOT_MINOR)), Some(3));
    assert_eq!(m.take(u32::from(MAX_UID_MINOR)), Some(MAX_UID_MINOR));
    assert!(m.contains(1011) && m.contains(3) && !m.contains(4));
}

#[test]
fn minors_run_out_after_65533_uids() {
    let mut m = Minors::default();
    for uid in 100_000..100_000 + u32::from(MAX_UID_MINOR) {
        assert!(m.take(uid).is_some());
    }
    assert_eq!(m.take(5), None);
}

#[test]
fn link_and_default_rates() {
    assert_eq!(link_rate(Some(10_000)), 1_250_000_000);
    assert_eq!(link_rate(Some(-1)), UNKNOWN_LINK);
    assert_eq!(link_rate(None), UNKNOWN_LINK);
    assert_eq!(default_rate(1_000_000, 300_000), 700_000);
    assert_eq!(default_rate(1_000_000, 5_000_000), 10_000);
}

#[test]
fn burst_and_quantum_stay_in_bounds() {
    assert_eq!(burst(1_250_000), 12_500);
    assert_eq!(burst(1_000), 3_028);
    assert_eq!(quantum(1_250_000), 12_500);
    assert_eq!(quantum(1_000), 1_514);
    assert_eq!(quantum(1_250_000_000), 200_000);
}

#[test]
fn the_class_is_written_only_where_an_htb_of_its_major_is_root() {
    let c = uid_class(1011);
    assert_eq!(priority(c, class_id(HTB_MAJOR, 0)), Some(c));
    assert_eq!(priority(c, class_id(1, 0)), None);
    assert_eq!(priority(c, 0), None);
    assert_eq!(priority(0, class_id(HTB_MAJOR, 0)), None);
    assert_eq!(priority(0, 0), None);
}

proptest! {
    #[test]
    fn minors_take_as_pick_minor_does(uids in proptest::collection::vec(0u32..70_000, 0..200)) {
        let mut fast = Minors::default();
        let mut slow = std::collections::BTreeSet::new();
        for uid in uids {
            let want = pick_minor(uid, |m| slow.contains(&m));
            prop_assert_eq!(fast.take(uid), want);
            if let Some(m) = want {
                slow.insert(m);
            }
        }
    }
}
