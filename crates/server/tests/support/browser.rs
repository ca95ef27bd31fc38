//! A browser for the single sign-on tests (`tests/sso`, `tests/scim`): cookies kept by name, no
//! redirect followed, and the sentence of a failed sign-in read from the `coffer_sso_error`
//! cookie Coffer sets for its sign-in page (never in the URL).

use std::collections::BTreeMap;

/// A browser: cookies by name, no redirects followed.
#[derive(Default, Clone)]
pub struct Browser {
    pub jar: BTreeMap<String, String>,
}

/// Where a request sent the browser, and the sentence of a failed sign-in (which Coffer puts in
/// the `coffer_sso_error` cookie for the sign-in page, never in the URL).
pub struct Hop {
    pub status: u16,
    pub location: String,
    pub error: Option<String>,
}

impl Browser {
    pub async fn get(&mut self, url: &str) -> Hop {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let cookies = self
            .jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let res = http
            .get(url)
            .header("cookie", cookies)
            .send()
            .await
            .unwrap();
        let mut error = None;
        for c in res.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (k, v) = c.split(';').next().unwrap().split_once('=').unwrap();
            if k == "coffer_sso_error" {
                let text = v.replace("%20", " ");
                error = Some(
                    url::form_urlencoded::parse(format!("e={text}").as_bytes())
                        .next()
                        .unwrap()
                        .1
                        .into_owned(),
                );
                continue;
            }
            if v.is_empty() {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.to_owned(), v.to_owned());
            }
        }
        if error.is_some() {
            assert!(
                location_is_login(&res),
                "a sentence comes with a redirect to /login"
            );
        }
        Hop {
            error,
            status: res.status().as_u16(),
            location: res
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned())
                .unwrap_or_default(),
        }
    }

    pub fn session(&self) -> Option<&str> {
        self.jar.get("coffer_session").map(String::as_str)
    }
}

fn location_is_login(res: &reqwest::Response) -> bool {
    res.headers()
        .get("location")
        .is_some_and(|l| l.to_str().unwrap() == "/login?sso=failed")
}
