//! Everything statectl takes from the process environment, read in one
//! place ([`Settings::from_env`]) and passed down as plain values.
//!
//! Why one place: a library that reads variables wherever it likes cannot
//! be driven by a test, a benchmark or another program with settings of its
//! own, and a variable that means something in one module and is ignored in
//! another is a trap. No other module of the library calls `std::env`; a
//! test (`tests/layering.rs`) fails on one that does. (The CLI's
//! `STATECTL_PROJECT` and `STATECTL_STATE_DIR` are argument sources that
//! clap resolves with the arguments.)

use std::path::PathBuf;

/// How to sign in to Microsoft Entra ID, as the environment suggests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CredentialHint {
    /// `AZURE_FEDERATED_TOKEN_FILE` is set: workload identity (OIDC
    /// federation, as the seed 002 pipelines use).
    WorkloadIdentity,
    /// `IDENTITY_ENDPOINT` or `MSI_ENDPOINT` is set: managed identity.
    ManagedIdentity,
    /// Otherwise: developer tools (`az login`, `azd auth login`).
    #[default]
    DeveloperTools,
}

/// Who runs statectl, as the environment names them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// `GITHUB_ACTOR` and `GITHUB_REPOSITORY`, both set in GitHub Actions.
    pub github: Option<(String, String)>,
    /// `BUILD_REQUESTEDFOREMAIL` or `BUILD_REQUESTEDFOR` (Azure DevOps).
    pub azure_devops: Option<String>,
    /// `USER`, `LOGNAME` or `USERNAME`.
    pub user: Option<String>,
}

/// The settings statectl reads from its environment.
///
/// Invariant: `mirror_sas` is a secret; `Debug` never shows it.
#[derive(Clone, Default)]
pub struct Settings {
    /// `STATECTL_NOW`: the clock override (RFC 3339), for tests and drills.
    pub now: Option<String>,
    /// `STATECTL_KEY_FILE`: where the key that seals the store's sensitive
    /// values lives (default: inside the state directory).
    pub key_file: Option<PathBuf>,
    /// `STATECTL_MIRROR`: the mirror's url, over `statectl.toml`.
    pub mirror: Option<String>,
    /// `STATECTL_MIRROR_KEY_FILE`: the mirror's local key file.
    pub mirror_key_file: Option<PathBuf>,
    /// `STATECTL_MIRROR_SAS`: a SAS token for the mirror's account.
    pub mirror_sas: Option<String>,
    /// `STATECTL_MIRROR_RETRIES`: the Azure SDK's retries per call.
    pub mirror_retries: Option<u32>,
    /// `STATECTL_SIM_SPEED`: run the simulator on the real clock, this many
    /// times faster (demos); unset or not positive: the virtual clock.
    pub sim_speed: Option<f64>,
    /// `CI` is set: no progress bars.
    pub ci: bool,
    /// `NO_COLOR` is set.
    pub no_color: bool,
    /// Who runs this process.
    pub identity: Identity,
    /// `HOSTNAME`, when the shell exports it.
    pub hostname: Option<String>,
    /// `$XDG_CONFIG_HOME`, else `$HOME/.config`: where the mirror key lives
    /// by default.
    pub config_home: Option<PathBuf>,
    /// Which Entra ID credential to use.
    pub credential: CredentialHint,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("now", &self.now)
            .field("key_file", &self.key_file)
            .field("mirror", &self.mirror)
            .field("mirror_key_file", &self.mirror_key_file)
            .field(
                "mirror_sas",
                &self.mirror_sas.as_ref().map(|_| "<redacted>"),
            )
            .field("mirror_retries", &self.mirror_retries)
            .field("sim_speed", &self.sim_speed)
            .field("ci", &self.ci)
            .field("no_color", &self.no_color)
            .field("identity", &self.identity)
            .field("hostname", &self.hostname)
            .field("config_home", &self.config_home)
            .field("credential", &self.credential)
            .finish()
    }
}

impl Settings {
    /// Reads the process environment. The only function of the library
    /// that does.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Builds settings from `get` (a variable's value, if set), so tests
    /// can give an environment of their own.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let set = |k: &str| get(k).is_some();
        let github = match (var("GITHUB_ACTOR"), var("GITHUB_REPOSITORY")) {
            (Some(a), Some(r)) => Some((a, r)),
            _ => None,
        };
        let config_home = var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")));
        let credential = if set("AZURE_FEDERATED_TOKEN_FILE") {
            CredentialHint::WorkloadIdentity
        } else if set("IDENTITY_ENDPOINT") || set("MSI_ENDPOINT") {
            CredentialHint::ManagedIdentity
        } else {
            CredentialHint::DeveloperTools
        };
        Settings {
            now: var("STATECTL_NOW"),
            key_file: var("STATECTL_KEY_FILE").map(PathBuf::from),
            mirror: var("STATECTL_MIRROR"),
            mirror_key_file: var("STATECTL_MIRROR_KEY_FILE").map(PathBuf::from),
            mirror_sas: var("STATECTL_MIRROR_SAS"),
            mirror_retries: var("STATECTL_MIRROR_RETRIES").and_then(|v| v.trim().parse().ok()),
            sim_speed: var("STATECTL_SIM_SPEED")
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|f| *f > 0.0 && f.is_finite()),
            ci: set("CI"),
            no_color: set("NO_COLOR"),
            identity: Identity {
                github,
                azure_devops: var("BUILD_REQUESTEDFOREMAIL").or_else(|| var("BUILD_REQUESTEDFOR")),
                user: var("USER")
                    .or_else(|| var("LOGNAME"))
                    .or_else(|| var("USERNAME")),
            },
            hostname: var("HOSTNAME"),
            config_home,
            credential,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Settings {
        let map: std::collections::BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn empty_values_count_as_unset_and_flags_count_when_present() {
        let s = from(&[
            ("STATECTL_NOW", " "),
            ("CI", ""),
            ("STATECTL_SIM_SPEED", "-3"),
        ]);
        assert_eq!(s.now, None);
        assert!(s.ci, "CI= (empty) still says CI");
        assert_eq!(s.sim_speed, None, "a speed that is not positive is off");
    }

    #[test]
    fn the_credential_follows_the_environment() {
        assert_eq!(
            from(&[("AZURE_FEDERATED_TOKEN_FILE", "/t"), ("MSI_ENDPOINT", "x")]).credential,
            CredentialHint::WorkloadIdentity
        );
        assert_eq!(
            from(&[("MSI_ENDPOINT", "x")]).credential,
            CredentialHint::ManagedIdentity
        );
        assert_eq!(from(&[]).credential, CredentialHint::DeveloperTools);
    }

    #[test]
    fn the_sas_never_shows_in_debug() {
        let s = from(&[("STATECTL_MIRROR_SAS", "sv=2024&sig=SECRET")]);
        let text = format!("{s:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn config_home_prefers_an_absolute_xdg_path() {
        let s = from(&[("XDG_CONFIG_HOME", "relative"), ("HOME", "/home/u")]);
        assert_eq!(s.config_home, Some(PathBuf::from("/home/u/.config")));
        let s = from(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/home/u")]);
        assert_eq!(s.config_home, Some(PathBuf::from("/x")));
    }
}
