use super::*;
use std::io::Cursor;

fn rta(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize(v.len().next_multiple_of(4), 0);
    v
}

const DST: u16 = 1;
const OIF: u16 = 4;
const GATEWAY: u16 = 5;
const PRIORITY: u16 = 6;
const PREFSRC: u16 = 7;
const TABLE: u16 = 15;
const RTM_F_CLONED: u32 = 0x200;

/// A dumped route as the kernel writes it: `struct rtmsg` (family, dst_len,
/// src_len, tos, table, protocol, scope, type, flags), RTA_TABLE, then `attrs`.
fn dumped(header: [u8; 8], flags: u32, attrs: &[Vec<u8>]) -> Rtmsg {
    let mut b = header.to_vec();
    b.extend(flags.to_ne_bytes());
    b.extend(rta(TABLE, &u32::from(header[4]).to_ne_bytes()));
    for a in attrs {
        b.extend(a);
    }
    let len = b.len();
    neli::FromBytesWithInput::from_bytes_with_input(&mut Cursor::new(b), len).unwrap()
}

fn names(i: u32) -> String {
    match i {
        3 => "dummy0".into(),
        n => format!("if{n}"),
    }
}

/// What a managed uid's dump shows: its table, as main.
fn own_dump() -> Vec<Rtmsg> {
    vec![
        // 10.1.3.0/24 dev dummy0 proto kernel scope link src 10.1.3.1
        dumped(
            [2, 24, 0, 0, 254, 2, 253, 1],
            0,
            &[
                rta(DST, &[10, 1, 3, 0]),
                rta(OIF, &3u32.to_ne_bytes()),
                rta(PREFSRC, &[10, 1, 3, 1]),
            ],
        ),
        // 10.20.0.0/16 via 10.1.3.2 dev dummy0 metric 7
        dumped(
            [2, 16, 0, 0, 254, 3, 0, 1],
            0,
            &[
                rta(DST, &[10, 20, 0, 0]),
                rta(PRIORITY, &7u32.to_ne_bytes()),
                rta(GATEWAY, &[10, 1, 3, 2]),
                rta(OIF, &3u32.to_ne_bytes()),
            ],
        ),
        // blackhole 10.21.0.0/16
        dumped([2, 16, 0, 0, 254, 3, 0, 6], 0, &[rta(DST, &[10, 21, 0, 0])]),
        // A broadcast route in main: not a user's kind.
        dumped(
            [2, 32, 0, 0, 254, 2, 253, 3],
            0,
            &[rta(DST, &[10, 1, 3, 255]), rta(OIF, &3u32.to_ne_bytes())],
        ),
        // 2001:db8:20::/48 via 2001:db8:1::2 dev dummy0 proto static metric 1024
        dumped(
            [10, 48, 0, 0, 254, 4, 0, 1],
            0,
            &[
                rta(
                    DST,
                    &"2001:db8:20::"
                        .parse::<std::net::Ipv6Addr>()
                        .unwrap()
                        .octets(),
                ),
                rta(PRIORITY, &1024u32.to_ne_bytes()),
                rta(
                    GATEWAY,
                    &"2001:db8:1::2"
                        .parse::<std::net::Ipv6Addr>()
                        .unwrap()
                        .octets(),
                ),
                rta(OIF, &3u32.to_ne_bytes()),
            ],
        ),
        // A cached clone: not listed.
        dumped(
            [10, 128, 0, 0, 254, 0, 0, 1],
            RTM_F_CLONED,
            &[rta(
                DST,
                &[0x20, 1, 0x0d, 0xb8, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            )],
        ),
        // unreachable default
        dumped(
            [10, 0, 0, 0, 254, 3, 0, 7],
            0,
            &[rta(PRIORITY, &1024u32.to_ne_bytes())],
        ),
    ]
}

#[test]
fn the_dump_shows_as_route_lines() {
    let own = own_routes(&own_dump());
    assert!(!own.other_tables);
    let lines: Vec<String> = own.routes.iter().map(|r| route_line(r, names)).collect();
    assert_eq!(
        lines,
        [
            "10.1.3.0/24 dev dummy0 proto kernel src 10.1.3.1",
            "10.20.0.0/16 via 10.1.3.2 dev dummy0 metric 7",
            "blackhole 10.21.0.0/16",
            "2001:db8:20::/48 via 2001:db8:1::2 dev dummy0 proto static metric 1024",
            "unreachable default metric 1024",
        ]
    );
}

#[test]
fn the_dump_shows_as_json() {
    let own = own_routes(&own_dump());
    let rows: Vec<Value> = own.routes.iter().map(|r| route_json(r, names)).collect();
    assert_eq!(
        Value::Array(rows),
        json!([
            {"dst": "10.1.3.0/24", "dev": "dummy0", "src": "10.1.3.1", "type": "unicast", "protocol": "kernel"},
            {"dst": "10.20.0.0/16", "via": "10.1.3.2", "dev": "dummy0", "metric": 7, "type": "unicast", "protocol": "boot"},
            {"dst": "10.21.0.0/16", "type": "blackhole", "protocol": "boot"},
            {"dst": "2001:db8:20::/48", "via": "2001:db8:1::2", "dev": "dummy0", "metric": 1024, "type": "unicast", "protocol": "static"},
            {"dst": "default", "metric": 1024, "type": "unreachable", "protocol": "boot"},
        ])
    );
}

#[test]
fn only_main_is_listed_and_other_tables_are_noticed() {
    // A stock kernel's dump: main, the local table and a uid's table.
    let msgs = vec![
        dumped(
            [2, 0, 0, 0, 254, 3, 0, 1],
            0,
            &[rta(GATEWAY, &[192, 0, 2, 1]), rta(OIF, &2u32.to_ne_bytes())],
        ),
        dumped(
            [2, 32, 0, 0, 255, 2, 254, 2],
            0,
            &[rta(DST, &[127, 0, 0, 1]), rta(OIF, &1u32.to_ne_bytes())],
        ),
        dumped([2, 16, 0, 0, 100, 3, 0, 6], 0, &[rta(DST, &[10, 99, 0, 0])]),
    ];
    let own = own_routes(&msgs);
    assert!(own.other_tables);
    let lines: Vec<String> = own.routes.iter().map(|r| route_line(r, names)).collect();
    assert_eq!(lines, ["default via 192.0.2.1 dev if2"]);
    assert!(
        own.routes_if_own().is_empty(),
        "main is not the caller's own"
    );
    // RTA_TABLE decides over rtm_table: 32811 shows as 252 in rtm_table.
    let mut b = [2u8, 16, 0, 0, 252, 3, 0, 6].to_vec();
    b.extend(0u32.to_ne_bytes());
    b.extend(rta(TABLE, &32811u32.to_ne_bytes()));
    let len = b.len();
    let m: Rtmsg =
        neli::FromBytesWithInput::from_bytes_with_input(&mut Cursor::new(b), len).unwrap();
    assert!(own_routes(&[m]).other_tables);
}

#[test]
fn flush_keeps_the_connected_routes() {
    let own = own_routes(&own_dump());
    let flushed: Vec<String> = own
        .routes
        .iter()
        .filter(|r| flushable(r))
        .map(|r| route_line(r, names))
        .collect();
    assert_eq!(
        flushed,
        [
            "10.20.0.0/16 via 10.1.3.2 dev dummy0 metric 7",
            "blackhole 10.21.0.0/16",
            "2001:db8:20::/48 via 2001:db8:1::2 dev dummy0 proto static metric 1024",
            "unreachable default metric 1024",
        ]
    );
    // And deletes each with its keys: 10.20.0.0/16 via 10.1.3.2 dev 3 metric 7.
    let m = own.routes[1].del_msg().unwrap();
    assert_eq!(
        (
            u8::from(*m.rtm_table()),
            u8::from(*m.rtm_type()),
            *m.rtm_dst_len()
        ),
        (254, 0, 16)
    );
    assert_eq!(m.rtattrs().len(), 4);
    let m = own.routes[2].del_msg().unwrap();
    assert_eq!(u8::from(*m.rtm_type()), 6, "a blackhole is deleted as one");
}

#[test]
fn destinations_and_protocols_read_as_ip_prints_them() {
    let r = |dst: &str, len| Route::new(RouteType::Unicast, dst.parse().unwrap(), len);
    assert_eq!(dst_text(&r("10.1.3.7", 32)), "10.1.3.7");
    assert_eq!(dst_text(&r("2001:db8::7", 128)), "2001:db8::7");
    assert_eq!(dst_text(&r("2001:db8::", 64)), "2001:db8::/64");
    assert_eq!(dst_text(&r("0.0.0.0", 0)), "default");
    assert_eq!(protocol_name(16), "dhcp");
    assert_eq!(protocol_name(186), "186");
    assert_eq!(ifname(u32::MAX), format!("if{}", u32::MAX));
}
