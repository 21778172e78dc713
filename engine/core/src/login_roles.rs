//! The users who may log in, as `pg_catalog.pg_roles` shows them to BI tools (admins as
//! superusers that may create, analysts as plain login roles).

use async_trait::async_trait;
use datafusion_pg_catalog::pg_catalog::context::{PgCatalogContextProvider, Role as PgRole};

use crate::config::{Config, Role};

/// The login roles of one configuration.
#[derive(Debug, Clone)]
pub struct LoginRoles {
    roles: Vec<(String, Role)>,
}

impl LoginRoles {
    /// The roles `config` lets log in.
    pub fn new(config: &Config) -> Self {
        Self {
            roles: config.login_roles(),
        }
    }
}

#[async_trait]
impl PgCatalogContextProvider for LoginRoles {
    async fn roles(&self) -> Vec<String> {
        self.roles.iter().map(|(name, _)| name.clone()).collect()
    }

    async fn role(&self, name: &str) -> Option<PgRole> {
        let (name, role) = self.roles.iter().find(|(n, _)| n == name)?;
        let admin = *role == Role::Admin;
        Some(PgRole {
            name: name.clone(),
            is_superuser: admin,
            can_login: true,
            can_create_db: false,
            can_create_role: false,
            can_create_user: false,
            can_replication: false,
            grants: Vec::new(),
            inherited_roles: Vec::new(),
        })
    }
}
