//! The `hubspot-sandbox` binary as someone else's test suite would run it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_binary_serves_a_seeded_portal_with_the_given_token_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hubspot-sandbox"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--records",
            "50",
            "--token",
            "T-bin",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (ok, refused) = rt.block_on(async {
        let http = reqwest::Client::new();
        let get = |token: &'static str| {
            http.get(format!("{url}/crm/v3/objects/contacts?limit=1"))
                .bearer_auth(token)
                .send()
        };
        (
            get("T-bin").await.unwrap().status().as_u16(),
            get("wrong").await.unwrap().status().as_u16(),
        )
    });
    assert_eq!((ok, refused), (200, 401));
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}
