//! `spirit user add`: writes a user's role and SCRAM-SHA-256 verifier into the config file.
//!
//! The file is edited in place with toml_edit, so its comments and layout survive; the password
//! itself is never written, only its verifier (see [`Verifier`]).

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, bail};
use spirit_core::config::Role;
use toml_edit::{DocumentMut, Item, Table, value};

use crate::pg::scram::Verifier;

/// Adds `name` with `role` and `password` to the config file at `path` (created if missing),
/// replacing the user's earlier entry. Returns whether the user existed.
pub fn add_user(path: &Path, name: &str, role: Role, password: &str) -> anyhow::Result<bool> {
    if name.trim().is_empty() {
        bail!("a user name cannot be empty");
    }
    if password.is_empty() {
        bail!("the password cannot be empty");
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut doc: DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let users = doc
        .entry("users")
        .or_insert_with(|| {
            let mut table = Table::new();
            table.set_implicit(true);
            Item::Table(table)
        })
        .as_table_mut()
        .with_context(|| format!("`users` in {} must be a table", path.display()))?;
    let existed = users.contains_key(name);
    let mut entry = Table::new();
    entry["role"] = value(role.name());
    entry["password"] = value(Verifier::new(password).to_string());
    users.insert(name, Item::Table(entry));
    // Written beside the file and renamed over it, so a failed write never leaves a truncated
    // configuration behind.
    let temporary = path.with_extension("toml.tmp");
    std::fs::write(&temporary, doc.to_string())
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(existed)
}

/// The new password: the first line of standard input with `from_stdin`, else asked for twice
/// on the terminal without echo.
pub fn read_password(name: &str, from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password(format!("Password for {name}: "))
        .context("cannot read the password from the terminal (use --password-stdin)")?;
    let second = rpassword::prompt_password("Again: ")?;
    if first != second {
        bail!("the passwords differ; nothing was changed");
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_and_replaces_users_keeping_the_rest_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spirit.toml");
        std::fs::write(&path, "# our engine\nmax_connections = 50\n").unwrap();
        assert!(!add_user(&path, "alice", Role::Analyst, "pw one").unwrap());
        assert!(add_user(&path, "alice", Role::Admin, "pw two").unwrap());
        add_user(&path, "bob smith", Role::Analyst, "pw three").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# our engine\nmax_connections = 50\n"),
            "{text}"
        );
        assert!(
            !text.contains("pw "),
            "the password itself is never written: {text}"
        );
        let config = spirit_core::Config::from_toml_with_env(&text, |_| None).unwrap();
        assert_eq!(config.max_connections, 50);
        assert_eq!(config.users.len(), 2);
        assert_eq!(config.users["alice"].role, Role::Admin);
        assert_eq!(config.users["bob smith"].role, Role::Analyst);
        assert!(Verifier::parse(&config.users["alice"].password).is_ok());
    }

    #[test]
    fn empty_names_and_passwords_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spirit.toml");
        assert!(add_user(&path, " ", Role::Admin, "x").is_err());
        assert!(add_user(&path, "a", Role::Admin, "").is_err());
        assert!(!path.exists());
    }
}
