//! Azure: the Blob Storage backend and the Key Vault key provider, through
//! the official Azure SDK for Rust (`azure_storage_blob`, `azure_identity`,
//! `azure_security_keyvault_keys`).
//!
//! Authentication: a SAS token when one is given (`STATECTL_MIRROR_SAS`;
//! what the tests use against Azurite, since the SDK has no Shared Key
//! option), otherwise Microsoft Entra ID: workload identity (OIDC
//! federation, CI) when `AZURE_FEDERATED_TOKEN_FILE` is set, managed
//! identity when `IDENTITY_ENDPOINT` is, developer tools (az / azd login)
//! otherwise.
//!
//! Tested here against Azurite (blob operations, SAS). The Entra ID and Key
//! Vault paths compile and are exercised only up to the point where a real
//! tenant is needed; see docs/mirror.md.

use std::num::NonZero;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, Etag as AzEtag, RequestContent, RetryOptions, Url};
use azure_storage_blob::models::{
    BlobClientAcquireLeaseResultHeaders as _, BlobClientBreakLeaseOptions, BlobClientUploadOptions,
    BlobContainerClientListBlobsOptions,
};
use azure_storage_blob::{BlobContainerClient, BlobServiceClient, BlobServiceClientOptions};
use futures::TryStreamExt as _;

use super::backend::{BlobError, Etag, LeaseId, ServiceProperties};
use crate::keys::{DataKey, KeyError, KeyProvider, WrappedKey};
use crate::settings::CredentialHint;

/// Removes anything that could be a credential from a message: the SAS
/// token itself and any `sig=` parameter (reqwest errors quote the URL).
fn redact(message: &str, sas: Option<&str>) -> String {
    let mut m = message.to_string();
    if let Some(s) = sas
        && !s.is_empty()
    {
        m = m.replace(s, "<sas>");
    }
    let mut out = String::with_capacity(m.len());
    let mut rest = m.as_str();
    while let Some(i) = rest.find("sig=") {
        out.push_str(&rest[..i + 4]);
        out.push_str("<redacted>");
        let tail = &rest[i + 4..];
        let end = tail
            .find(|c: char| c == '&' || c == ')' || c == '"' || c.is_whitespace())
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// How the Azure clients sign in and retry, from [`crate::settings::Settings`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AzureAuth {
    /// The SDK's retries per call (`STATECTL_MIRROR_RETRIES`, default 3).
    pub retries: u32,
    /// Which Entra ID credential to use when there is no SAS token.
    pub credential: CredentialHint,
}

impl Default for AzureAuth {
    fn default() -> Self {
        AzureAuth {
            retries: 3,
            credential: CredentialHint::DeveloperTools,
        }
    }
}

impl AzureAuth {
    /// From the process settings.
    pub fn from_settings(s: &crate::settings::Settings) -> Self {
        AzureAuth {
            retries: s.mirror_retries.unwrap_or(3),
            credential: s.credential,
        }
    }
}

fn client_options(auth: AzureAuth) -> ClientOptions {
    // Our own push retries (next apply, `mirror push`) are the durable ones;
    // the SDK's are kept short so a dead endpoint fails in seconds, and off
    // with STATECTL_MIRROR_RETRIES=0 (tests: Azurite answers 500 for calls it
    // does not implement, and default retries take ~80 s to give up).
    let retries = auth.retries;
    let retry = if retries == 0 {
        RetryOptions::none()
    } else {
        RetryOptions::exponential(azure_core::http::ExponentialRetryOptions {
            max_retries: retries,
            max_total_elapsed: azure_core::time::Duration::seconds(20),
            ..Default::default()
        })
    };
    ClientOptions {
        retry,
        ..Default::default()
    }
}

/// The credential for Microsoft Entra ID that the environment suggests.
fn credential(hint: CredentialHint) -> Result<(Arc<dyn TokenCredential>, &'static str), String> {
    match hint {
        CredentialHint::WorkloadIdentity => {
            let c = azure_identity::WorkloadIdentityCredential::new(None)
                .map_err(|e| format!("workload identity: {e}"))?;
            Ok((c, "workload identity"))
        }
        CredentialHint::ManagedIdentity => {
            let c = azure_identity::ManagedIdentityCredential::new(None)
                .map_err(|e| format!("managed identity: {e}"))?;
            Ok((c, "managed identity"))
        }
        CredentialHint::DeveloperTools => {
            let c = azure_identity::DeveloperToolsCredential::new(None)
                .map_err(|e| format!("developer credentials (az login): {e}"))?;
            Ok((c, "developer credentials"))
        }
    }
}

/// An Azure Blob Storage container.
///
/// Invariant: the SAS token, if any, lives only inside the SDK client's
/// URL and in `sas` for redaction; messages and `Debug` never show it.
pub struct AzureBlob {
    service: BlobServiceClient,
    container: BlobContainerClient,
    account_url: String,
    container_name: String,
    auth: &'static str,
    sas: Option<String>,
    created: tokio::sync::OnceCell<()>,
}

impl std::fmt::Debug for AzureBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Why the Azure backend or key provider cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AzureSetupError(pub String);

impl AzureBlob {
    /// A client for `container` in the account at `account_url`, with a SAS
    /// token or (without one) Microsoft Entra ID.
    pub fn new(
        account_url: &str,
        container: &str,
        sas: Option<&str>,
        auth: AzureAuth,
    ) -> Result<Self, AzureSetupError> {
        let base = account_url.trim_end_matches('/');
        let sas = sas.map(|s| s.trim_start_matches('?').to_string());
        let (url, cred, how) = match &sas {
            Some(s) => (format!("{base}?{s}"), None, "SAS token"),
            None => {
                let (c, how) = credential(auth.credential).map_err(|e| {
                    AzureSetupError(format!(
                        "no credential for {base}: {e}; sign in (az login), run with a managed or workload identity, or set STATECTL_MIRROR_SAS"
                    ))
                })?;
                (base.to_string(), Some(c), how)
            }
        };
        let url = Url::parse(&url).map_err(|e| {
            AzureSetupError(format!(
                "`{base}` is not a URL: {}",
                redact(&e.to_string(), sas.as_deref())
            ))
        })?;
        let service = BlobServiceClient::new(
            url,
            cred,
            Some(BlobServiceClientOptions {
                client_options: client_options(auth),
                ..Default::default()
            }),
        )
        .map_err(|e| AzureSetupError(redact(&e.to_string(), sas.as_deref())))?;
        let client = service.blob_container_client(container);
        Ok(AzureBlob {
            service,
            container: client,
            account_url: base.to_string(),
            container_name: container.to_string(),
            auth: how,
            sas,
            created: tokio::sync::OnceCell::new(),
        })
    }

    /// A client for one container URL, for tests that build their own
    /// (e.g. Azurite with a computed account SAS).
    pub fn location(&self) -> String {
        format!("{}/{}", self.account_url, self.container_name)
    }

    /// A short description for messages (never includes credentials).
    pub fn describe(&self) -> String {
        format!(
            "Azure Blob Storage {}/{} ({})",
            self.account_url, self.container_name, self.auth
        )
    }

    fn err(&self, operation: &'static str, path: &str, e: &azure_core::Error) -> BlobError {
        let status = e.http_status().map(u16::from);
        let code = match e.kind() {
            azure_core::error::ErrorKind::HttpResponse { error_code, .. } => error_code.clone(),
            _ => None,
        };
        let path = path.to_string();
        match (status, code.as_deref()) {
            (Some(409), Some("LeaseAlreadyPresent")) => BlobError::Leased { path },
            (Some(409), Some("BlobAlreadyExists")) => BlobError::Exists { path },
            (
                Some(412),
                Some(
                    "LeaseIdMissing"
                    | "LeaseIdMismatchWithLeaseOperation"
                    | "LeaseNotPresentWithLeaseOperation"
                    | "LeaseLost",
                ),
            ) => BlobError::Leased { path },
            (Some(412), _) => BlobError::Changed { path },
            (Some(404), _) => BlobError::NotFound { path },
            _ => BlobError::Service {
                operation,
                path,
                message: match (status, &code) {
                    (Some(s), Some(c)) => format!("HTTP {s} {c}"),
                    (Some(s), None) => format!("HTTP {s}"),
                    _ => redact(&e.to_string(), self.sas.as_deref()),
                },
                transient: status.is_none_or(|s| s >= 500 || s == 429 || s == 408),
            },
        }
    }

    async fn ensure_container(&self) -> Result<(), BlobError> {
        self.created
            .get_or_try_init(|| async {
                match self.container.create(None).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.http_status().map(u16::from) == Some(409) => Ok(()),
                    Err(e) => Err(self.err("create container", &self.container_name, &e)),
                }
            })
            .await
            .map(|_| ())
    }

    fn options(
        if_none_match: Option<AzEtag>,
        if_match: Option<AzEtag>,
    ) -> BlobClientUploadOptions<'static> {
        BlobClientUploadOptions {
            if_none_match,
            if_match,
            // One request: conditions are checked before anything is written.
            partition_size: NonZero::new(256 * 1024 * 1024),
            ..Default::default()
        }
    }

    pub(super) async fn put_new(&self, path: &str, bytes: &[u8]) -> Result<Etag, BlobError> {
        self.ensure_container().await?;
        let r = self
            .container
            .blob_client(path)
            .upload(
                RequestContent::from(bytes.to_vec()),
                Some(Self::options(Some(AzEtag::from("*")), None)),
            )
            .await
            .map_err(|e| self.err("upload", path, &e))?;
        Ok(Etag(r.etag.map(|e| e.to_string()).unwrap_or_default()))
    }

    pub(super) async fn put_if(
        &self,
        path: &str,
        bytes: &[u8],
        etag: &Etag,
    ) -> Result<Etag, BlobError> {
        let r = self
            .container
            .blob_client(path)
            .upload(
                RequestContent::from(bytes.to_vec()),
                Some(Self::options(None, Some(AzEtag::from(etag.0.clone())))),
            )
            .await
            .map_err(|e| self.err("upload", path, &e))?;
        Ok(Etag(r.etag.map(|e| e.to_string()).unwrap_or_default()))
    }

    pub(super) async fn get(&self, path: &str) -> Result<(Vec<u8>, Etag), BlobError> {
        let d = self
            .container
            .blob_client(path)
            .download(None)
            .await
            .map_err(|e| self.err("download", path, &e))?;
        let etag = Etag(
            d.properties
                .etag
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        );
        let bytes = d
            .body
            .collect()
            .await
            .map_err(|e| self.err("download", path, &e))?;
        Ok((bytes.to_vec(), etag))
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let mut pager = match self
            .container
            .list_blobs(Some(BlobContainerClientListBlobsOptions {
                prefix: Some(prefix.to_string()),
                ..Default::default()
            })) {
            Ok(p) => p,
            Err(e) => return Err(self.err("list", prefix, &e)),
        };
        let mut out = Vec::new();
        loop {
            match pager.try_next().await {
                Ok(Some(item)) => {
                    if let Some(n) = item.name {
                        out.push(n);
                    }
                }
                Ok(None) => break,
                // A container not created yet holds nothing.
                Err(e) if e.http_status().map(u16::from) == Some(404) => break,
                Err(e) => return Err(self.err("list", prefix, &e)),
            }
        }
        Ok(out)
    }

    pub(super) async fn delete(&self, path: &str) -> Result<(), BlobError> {
        match self.container.blob_client(path).delete(None).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status().map(u16::from) == Some(404) => Ok(()),
            Err(e) => Err(self.err("delete", path, &e)),
        }
    }

    pub(super) async fn lease(&self, path: &str, secs: u32) -> Result<LeaseId, BlobError> {
        match self.put_new(path, b"").await {
            Ok(_) | Err(BlobError::Exists { .. } | BlobError::Leased { .. }) => {}
            Err(e) => return Err(e),
        }
        let secs = i32::try_from(secs.clamp(15, 60)).unwrap_or(60);
        let r = self
            .container
            .blob_client(path)
            .acquire_lease(secs, None)
            .await
            .map_err(|e| self.err("acquire lease on", path, &e))?;
        let id = r
            .lease_id()
            .map_err(|e| self.err("acquire lease on", path, &e))?
            .ok_or_else(|| BlobError::Service {
                operation: "acquire lease on",
                path: path.to_string(),
                message: "the service returned no lease id".into(),
                transient: false,
            })?;
        Ok(LeaseId(id))
    }

    pub(super) async fn renew(&self, path: &str, lease: &LeaseId) -> Result<(), BlobError> {
        self.container
            .blob_client(path)
            .renew_lease(lease.0.clone(), None)
            .await
            .map(|_| ())
            .map_err(|e| self.err("renew lease on", path, &e))
    }

    pub(super) async fn release(&self, path: &str, lease: &LeaseId) -> Result<(), BlobError> {
        self.container
            .blob_client(path)
            .release_lease(lease.0.clone(), None)
            .await
            .map(|_| ())
            .map_err(|e| self.err("release lease on", path, &e))
    }

    pub(super) async fn break_lease(&self, path: &str) -> Result<(), BlobError> {
        match self
            .container
            .blob_client(path)
            .break_lease(Some(BlobClientBreakLeaseOptions {
                break_period: Some(0),
                ..Default::default()
            }))
            .await
        {
            Ok(_) => Ok(()),
            // Nothing to break: no blob, or no lease on it.
            Err(e) if matches!(e.http_status().map(u16::from), Some(404 | 409)) => Ok(()),
            Err(e) => Err(self.err("break lease on", path, &e)),
        }
    }

    pub(super) async fn properties(&self) -> Result<ServiceProperties, BlobError> {
        let mut notes = vec![
            "blob versioning is an account setting of the management plane (ARM), not reported by the Blob service; check it with `az storage account blob-service-properties show`".to_string(),
        ];
        let p = match self.service.get_properties(None).await {
            Ok(r) => r
                .into_model()
                .map_err(|e| self.err("read service properties of", &self.account_url, &e))?,
            Err(e) => {
                notes.push(format!(
                    "the service properties could not be read ({}); the credential may lack account-level read rights",
                    redact(&e.to_string(), self.sas.as_deref())
                ));
                return Ok(ServiceProperties {
                    delete_retention_days: None,
                    versioning: None,
                    notes,
                });
            }
        };
        let days = p.delete_retention_policy.and_then(|r| match r.enabled {
            Some(true) => r.days.and_then(|d| u32::try_from(d).ok()),
            Some(false) => Some(0),
            None => None,
        });
        if days.is_none() {
            notes.push("the service did not report a delete retention policy (Azurite stores but does not apply it)".into());
        }
        Ok(ServiceProperties {
            delete_retention_days: days,
            versioning: None,
            notes,
        })
    }
}

/// The customer-managed key in Azure Key Vault: data keys are wrapped and
/// unwrapped with RSA-OAEP-256 by the vault; the key never leaves it.
///
/// Invariant: `url` is `https://<vault>/keys/<name>`; each wrap names the
/// key version the vault used, so rotation in the vault is picked up by the
/// next wrap and older versions keep unwrapping until disabled there.
pub struct KeyVaultKeys {
    vault: String,
    name: String,
    auth: AzureAuth,
}

impl KeyVaultKeys {
    /// A provider for the key at `url` (`https://<vault>.vault.azure.net/keys/<name>`).
    pub fn new(url: &str, auth: AzureAuth) -> Result<Self, AzureSetupError> {
        let bad = || {
            AzureSetupError(format!(
                "`{url}` is not a Key Vault key URL: write https://<vault>.vault.azure.net/keys/<name>"
            ))
        };
        let rest = url.strip_prefix("https://").ok_or_else(bad)?;
        let mut parts = rest.trim_end_matches('/').split('/');
        let (host, keys, name) = (parts.next(), parts.next(), parts.next());
        match (host, keys, name) {
            (Some(h), Some("keys"), Some(n)) if !h.is_empty() && !n.is_empty() => {
                Ok(KeyVaultKeys {
                    vault: format!("https://{h}/"),
                    name: n.to_string(),
                    auth,
                })
            }
            _ => Err(bad()),
        }
    }

    /// Runs a Key Vault call on its own runtime and thread: the key provider
    /// interface is synchronous, and may be called from inside a runtime.
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(
            azure_security_keyvault_keys::KeyClient,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, String>> + Send>>
        + Send
        + 'static,
    ) -> Result<T, KeyError> {
        let vault = self.vault.clone();
        let file_err = |message: String| KeyError::File {
            path: std::path::PathBuf::from(&vault),
            message,
        };
        let vault2 = self.vault.clone();
        let auth = self.auth;
        std::thread::spawn(move || -> Result<T, String> {
            let (cred, _) = credential(auth.credential)?;
            let client = azure_security_keyvault_keys::KeyClient::new(
                &vault2,
                cred,
                Some(azure_security_keyvault_keys::KeyClientOptions {
                    client_options: client_options(auth),
                    ..Default::default()
                }),
            )
            .map_err(|e| e.to_string())?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(f(client))
        })
        .join()
        .map_err(|_| file_err("the Key Vault call panicked".into()))?
        .map_err(file_err)
    }
}

impl KeyProvider for KeyVaultKeys {
    fn describe(&self) -> String {
        format!("Key Vault key {}keys/{}", self.vault, self.name)
    }

    fn wrap(&self, key: &DataKey) -> Result<WrappedKey, KeyError> {
        use azure_security_keyvault_keys::models::{
            EncryptionAlgorithm, KeyClientWrapKeyOptions, KeyOperationParameters,
        };
        let name = self.name.clone();
        let dek = key.bytes().to_vec();
        let (bytes, kid) = self.call(move |client| {
            Box::pin(async move {
                let params = KeyOperationParameters {
                    algorithm: Some(EncryptionAlgorithm::RsaOaep256),
                    value: Some(dek),
                    ..Default::default()
                };
                let r = client
                    .wrap_key(
                        &name,
                        params
                            .try_into()
                            .map_err(|e: azure_core::Error| e.to_string())?,
                        Some(KeyClientWrapKeyOptions::default()),
                    )
                    .await
                    .map_err(|e| e.to_string())?
                    .into_model()
                    .map_err(|e| e.to_string())?;
                Ok((r.result.unwrap_or_default(), r.kid.unwrap_or_default()))
            })
        })?;
        let version = kid.rsplit('/').next().unwrap_or_default().to_string();
        Ok(WrappedKey {
            provider: "azure-keyvault".into(),
            key_id: format!("{}keys/{}", self.vault, self.name),
            version,
            bytes,
        })
    }

    fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, KeyError> {
        use azure_security_keyvault_keys::models::{EncryptionAlgorithm, KeyOperationParameters};
        if wrapped.provider != "azure-keyvault" {
            return Err(KeyError::WrongProvider {
                wanted: format!(
                    "{} key {} version {}",
                    wrapped.provider, wrapped.key_id, wrapped.version
                ),
                have: self.describe(),
            });
        }
        let name = self.name.clone();
        let version = wrapped.version.clone();
        let value = wrapped.bytes.clone();
        let bytes = self.call(move |client| {
            Box::pin(async move {
                let params = KeyOperationParameters {
                    algorithm: Some(EncryptionAlgorithm::RsaOaep256),
                    value: Some(value),
                    ..Default::default()
                };
                let r = client
                    .unwrap_key(
                        &name,
                        &version,
                        params
                            .try_into()
                            .map_err(|e: azure_core::Error| e.to_string())?,
                        None,
                    )
                    .await
                    .map_err(|e| e.to_string())?
                    .into_model()
                    .map_err(|e| e.to_string())?;
                Ok(r.result.unwrap_or_default())
            })
        })?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Decrypt {
            what: "data key unwrapped by Key Vault".into(),
        })?;
        Ok(DataKey::from_bytes(arr))
    }
}

/// An account SAS for the Blob service (service, container and object
/// resources; read, write, delete, list, add, create, update, process),
/// signed with the account key: HMAC-SHA256 over the documented
/// string-to-sign. For Azurite (whose key is public) and for accounts where
/// Shared Key is still allowed; production should use Entra ID instead.
pub fn account_sas(account: &str, key_b64: &str, expiry: &str) -> Result<String, String> {
    let (sp, ss, srt, st, sip, spr, sv, ses) = (
        "rwdlacup",
        "b",
        "sco",
        "",
        "",
        "https,http",
        "2026-04-06",
        "",
    );
    let sts = format!("{account}\n{sp}\n{ss}\n{srt}\n{st}\n{expiry}\n{sip}\n{spr}\n{sv}\n{ses}\n");
    let sig = azure_core::hmac::hmac_sha256(
        &sts,
        &azure_core::credentials::Secret::new(key_b64.to_string()),
    )
    .map_err(|e| e.to_string())?;
    let mut u = Url::parse("http://sas.invalid/").map_err(|e| e.to_string())?;
    u.query_pairs_mut()
        .append_pair("sv", sv)
        .append_pair("ss", ss)
        .append_pair("srt", srt)
        .append_pair("sp", sp)
        .append_pair("se", expiry)
        .append_pair("spr", spr)
        .append_pair("sig", &sig);
    Ok(u.query().unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_signatures() {
        let m = "error sending request for url (http://h/c/b?sv=1&sig=abc%2Bdef&se=x): refused";
        let r = redact(m, None);
        assert!(!r.contains("abc"), "{r}");
        assert!(r.contains("sig=<redacted>&se=x"), "{r}");
        assert_eq!(
            redact("token sv=1&x=2 here", Some("sv=1&x=2")),
            "token <sas> here"
        );
    }

    #[test]
    fn key_vault_urls() {
        let k = KeyVaultKeys::new(
            "https://kv1.vault.azure.net/keys/statectl-kek",
            AzureAuth::default(),
        )
        .unwrap();
        assert_eq!(
            k.describe(),
            "Key Vault key https://kv1.vault.azure.net/keys/statectl-kek"
        );
        assert!(
            KeyVaultKeys::new("http://kv1.vault.azure.net/keys/x", AzureAuth::default()).is_err()
        );
        assert!(
            KeyVaultKeys::new(
                "https://kv1.vault.azure.net/secrets/x",
                AzureAuth::default()
            )
            .is_err()
        );
    }

    #[test]
    fn sas_has_the_documented_fields() {
        let s = account_sas(
            "devstoreaccount1",
            "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
            "2030-01-01T00:00:00Z",
        )
        .unwrap();
        for f in [
            "sv=2026-04-06",
            "ss=b",
            "srt=sco",
            "sp=rwdlacup",
            "se=2030-01-01T00%3A00%3A00Z",
            "sig=",
        ] {
            assert!(s.contains(f), "{f} in {s}");
        }
    }
}
