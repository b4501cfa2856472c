//! What detection found on one port: [`ServiceInfo`] and, when the service spoke TLS,
//! [`TlsInfo`].

use serde::{Deserialize, Serialize};

/// How a [`ServiceInfo`] was decided (nmap's `method` attribute).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The service answered something that a probe's matcher recognised.
    Probed,
    /// Nothing was recognised: the name is the port's conventional one, a guess.
    Table,
}

impl Method {
    /// `probed` or `table`, as nmap writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Probed => "probed",
            Method::Table => "table",
        }
    }
}

/// The certificate and session of a TLS service, as the handshake showed them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// The leaf certificate's subject, as an RFC 4514 string (`CN=example.org,O=...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The leaf certificate's issuer, as an RFC 4514 string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The subject alternative names: DNS names as they are, addresses as text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
    /// The end of the certificate's validity, RFC 3339 (`2027-01-01T00:00:00Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// The protocol version agreed (`TLSv1.3`, `TLSv1.2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The cipher suite agreed, by its IANA name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
}

/// What runs on one port: the service, and what is known of its product.
///
/// Field names follow nmap's `<service>` element: `name`, `product`, `version`, `extrainfo`,
/// `hostname`, `ostype`, `devicetype`, `method`, `conf`, and `tunnel="ssl"` when the service
/// runs inside TLS (then [`ServiceInfo::tls`] holds the certificate).
///
/// Its serde form is the `service` object of the json and ndjson outputs: those names, the
/// CPEs as `cpe` and the confidence as `conf`, fields without a value left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// The service name as nmap names it (`ssh`, `http`, `smtp`, `domain`, …); `unknown` when
    /// the port answered nothing recognisable and has no conventional name.
    pub name: String,
    /// The product (`OpenSSH`, `nginx`, `Apache httpd`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The product's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Anything else the service told (`protocol 2.0`, `Python 3.11.2`, `(Debian)`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extrainfo: Option<String>,
    /// The host name the service gave (an SMTP greeting's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The operating system the answer reveals (`Linux`, `Unix`, `Windows`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ostype: Option<String>,
    /// The kind of device the answer reveals (`router`, `printer`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devicetype: Option<String>,
    /// CPE names (`cpe:/a:openbsd:openssh:9.2p1`), nmap's 2.2 URI form.
    #[serde(rename = "cpe", default, skip_serializing_if = "Vec::is_empty")]
    pub cpes: Vec<String>,
    /// How the name was decided.
    pub method: Method,
    /// Confidence from 0 to 10, as nmap's `conf`: 10 for a matched answer, 8 for a soft
    /// match (the service without its product), 3 for a name from the port table.
    #[serde(rename = "conf")]
    pub confidence: u8,
    /// The TLS session when the service runs inside TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
}

impl ServiceInfo {
    /// A service known by name only, recognised from an answer (confidence 10).
    pub fn probed(name: &str) -> ServiceInfo {
        ServiceInfo {
            name: name.to_string(),
            product: None,
            version: None,
            extrainfo: None,
            hostname: None,
            ostype: None,
            devicetype: None,
            cpes: Vec::new(),
            method: Method::Probed,
            confidence: 10,
            tls: None,
        }
    }

    /// A guess from the port's conventional name (`unknown` when it has none), confidence 3.
    pub fn from_table(port: u16) -> ServiceInfo {
        let name = crate::ports::service_name(port).unwrap_or("unknown");
        ServiceInfo {
            method: Method::Table,
            confidence: 3,
            ..ServiceInfo::probed(name)
        }
    }

    /// Whether the service runs inside TLS (nmap's `tunnel="ssl"`).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The name as nmap's text output prints it: `ssl/http` for HTTP inside TLS, else the
    /// name.
    pub fn display_name(&self) -> String {
        if self.is_tls() && self.name != "ssl" {
            format!("ssl/{}", self.name)
        } else {
            self.name.clone()
        }
    }

    /// The `VERSION` column of nmap's text output: product, version, then `(extrainfo)`,
    /// separated by spaces, each where known.
    ///
    /// ```
    /// use portscout::service::ServiceInfo;
    /// let mut s = ServiceInfo::probed("ssh");
    /// s.product = Some("OpenSSH".into());
    /// s.version = Some("9.2p1 Debian 2+deb12u3".into());
    /// s.extrainfo = Some("protocol 2.0".into());
    /// assert_eq!(s.version_line(), "OpenSSH 9.2p1 Debian 2+deb12u3 (protocol 2.0)");
    /// ```
    pub fn version_line(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.product {
            parts.push(p.clone());
        }
        if let Some(v) = &self.version {
            parts.push(v.clone());
        }
        if let Some(i) = &self.extrainfo {
            parts.push(format!("({i})"));
        }
        parts.join(" ")
    }

    /// Adds a CPE unless it is already there.
    pub(crate) fn add_cpe(&mut self, cpe: impl Into<String>) {
        let cpe = cpe.into();
        if !self.cpes.contains(&cpe) {
            self.cpes.push(cpe);
        }
    }
}
