//! TLS for pg-wire clients (rustls): `tls_cert` and `tls_key` in `spirit.toml`.
//!
//! With both set, clients that ask for TLS (`sslmode=require`, pgjdbc's `ssl=true`) get it;
//! clients that do not ask are still served in plain text, as PostgreSQL does with `host`
//! lines in pg_hba.conf.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::tokio_rustls::rustls;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use spirit_core::Config;

/// The TLS acceptor `config` asks for, or `None` when TLS is off.
pub fn acceptor(config: &Config) -> anyhow::Result<Option<TlsAcceptor>> {
    let (cert, key) = match (&config.tls_cert, &config.tls_key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        (Some(_), None) => bail!("tls_cert is set but tls_key is not: set both to turn TLS on"),
        (None, Some(_)) => bail!("tls_key is set but tls_cert is not: set both to turn TLS on"),
    };
    let server_config = server_config(cert, key)?;
    Ok(Some(TlsAcceptor::from(Arc::new(server_config))))
}

fn server_config(cert: &Path, key: &Path) -> anyhow::Result<ServerConfig> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("tls_cert {}: cannot read PEM certificates", cert.display()))?;
    if chain.is_empty() {
        bail!("tls_cert {} holds no PEM certificate", cert.display());
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("tls_key {}: cannot read a PEM private key", key.display()))?;
    // Both of rustls' crypto back ends are compiled in (through different dependencies), so
    // the provider is named rather than left to rustls' process-wide default.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server_config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .with_context(|| {
            format!(
                "tls_cert {} and tls_key {} do not form a usable certificate and key",
                cert.display(),
                key.display()
            )
        })?;
    server_config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(server_config)
}
