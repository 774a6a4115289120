//! The binary's exit codes and messages for what fails before any socket.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_uoa-route"))
        .args(args)
        .output()
        .expect("uoa-route runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn mistakes_exit_1_with_a_message() {
    let cases: [(&[&str], &str); 5] = [
        (&["add"], "<ROUTE>"),
        (&["frobnicate"], "unrecognized subcommand"),
        (
            &["add", "10.20.0.1/16", "dev", "lo"],
            "uoa-route: add: 10.20.0.1/16 has host bits set: the network is 10.20.0.0/16\n",
        ),
        (
            &["replace", "10.20.0.0/16", "via", "2001:db8::1"],
            "uoa-route: replace: via 2001:db8::1 is IPv6 but 10.20.0.0/16 is IPv4\n",
        ),
        (
            &["del", "10.20.0.0/16", "dev", "uoa-no-such0"],
            "uoa-route: del 10.20.0.0/16: dev uoa-no-such0: no such interface here (see `ip link`)\n",
        ),
    ];
    for (args, want) in cases {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

#[test]
fn help_man_and_completions_exit_0() {
    for args in [
        &["--help"][..],
        &["add", "--help"],
        &["man"],
        &["completions", "bash"],
    ] {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(
            stdout.contains("uoa-route") || stdout.contains("uoa\\-route"),
            "{args:?}"
        );
    }
}
