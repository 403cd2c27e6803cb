//! Real headless Chromium for the page tests: launched on a throwaway profile, with CI's
//! rule that a missing Chromium fails rather than skips.

use std::time::Duration;

use chromiumoxide::browser::{Browser, BrowserConfig};
use futures::StreamExt;

const CHROMIUM: &[&str] = &["/usr/lib/chromium/chromium", "/usr/bin/chromium"];

/// A running headless Chromium; [`Headless::close`] ends it.
pub struct Headless {
    pub browser: Browser,
    driver: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

/// Chromium started headless, or `None` (the test skips) when it is not installed outside
/// CI; under `CI=true` a missing Chromium fails the test.
pub async fn launch() -> Option<Headless> {
    let Some(executable) = CHROMIUM
        .iter()
        .copied()
        .find(|p| std::path::Path::new(p).exists())
    else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "chromium is not installed, and CI must run the page tests: \
                 `apt-get install -y chromium` (.ci/test.sh does this as root)"
            );
        }
        eprintln!("skipped: chromium is not installed (apt-get install -y chromium)");
        return None;
    };
    let profile = tempfile::tempdir().unwrap();
    let config = BrowserConfig::builder()
        .chrome_executable(executable)
        .new_headless_mode()
        .no_sandbox()
        .user_data_dir(profile.path().join("profile"))
        .env(
            "XDG_CONFIG_HOME",
            profile.path().join("xdg").display().to_string(),
        )
        .viewport(None)
        .window_size(1280, 900)
        .launch_timeout(Duration::from_secs(60))
        .request_timeout(Duration::from_secs(30))
        .args([
            "disable-gpu",
            "disable-component-update",
            "disable-background-networking",
            "no-first-run",
            "disable-sync",
            "no-default-browser-check",
            "disable-domain-reliability",
        ])
        .build()
        .unwrap();
    let (browser, mut handler) = Browser::launch(config).await.expect("chromium starts");
    let driver = tokio::spawn(async move {
        while let Some(event) = handler.next().await {
            if let Err(chromiumoxide::error::CdpError::Ws(error)) = event {
                eprintln!("chromium connection ended: {error}");
                break;
            }
        }
    });
    Some(Headless {
        browser,
        driver,
        _profile: profile,
    })
}

impl Headless {
    pub async fn close(mut self) {
        self.browser.close().await.unwrap();
        self.browser.wait().await.unwrap();
        let _ = self.driver.await;
    }
}

/// Polls `selector` until at least one element matches; panics with the page otherwise.
pub async fn wait_for(
    page: &chromiumoxide::Page,
    selector: &str,
    within: Duration,
) -> Vec<chromiumoxide::Element> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Ok(found) = page.find_elements(selector).await {
            if !found.is_empty() {
                return found;
            }
        }
        if tokio::time::Instant::now() > deadline {
            let html = page.content().await.unwrap_or_default();
            panic!("{selector} did not appear in time; the page:\n{html}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Logs in on the page at `base` with `token` (the login form the pages redirect to).
pub async fn log_in_page(page: &chromiumoxide::Page, token: &str) {
    let field = wait_for(page, "#token", Duration::from_secs(15)).await;
    field[0].click().await.unwrap();
    field[0].type_str(token).await.unwrap();
    page.find_element("#login-submit")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}
