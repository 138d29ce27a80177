//! What an API key may do and where. A key has the sites it may use (a list, or every
//! site) and permissions: `send` (send and cancel messages), `read` (read the messages it
//! sent), `inbound` (read the SMS received at its sites) and `sites` (site details: modems,
//! IMEI, SIM, operator). A key with a default site reads the inbound SMS of that site only,
//! as keys always did; without one, those of every site it may use.
//!
//! [`KeyScope::parse`] checks a scope as a client or an operator writes it; the database
//! keeps it as text arrays and [`KeyScope::from_stored`] reads them back.

use std::{collections::BTreeSet, fmt, str::FromStr};

use smsgw_shared::ids::SiteId;

use super::FieldError;

/// One thing a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Send messages (`POST /api/v1/messages`) and cancel them.
    Send,
    /// Read the messages the key sent.
    Read,
    /// Read the SMS received at the key's sites.
    Inbound,
    /// Read the key's sites with their modems.
    Sites,
}

impl Permission {
    /// Every permission, in their documented order.
    pub const ALL: [Permission; 4] = [
        Permission::Send,
        Permission::Read,
        Permission::Inbound,
        Permission::Sites,
    ];

    /// Name in the API, the command line and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Send => "send",
            Permission::Read => "read",
            Permission::Inbound => "inbound",
            Permission::Sites => "sites",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no permission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission {0:?}; permissions are send, read, inbound and sites")]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPermission(s.to_owned()))
    }
}

/// The sites a key may use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sites {
    /// Every site, present and future.
    All,
    /// These (at least one, sorted, no duplicates).
    Only(Vec<String>),
}

impl Sites {
    /// Whether `site` is among them.
    pub fn contains(&self, site: &str) -> bool {
        match self {
            Sites::All => true,
            Sites::Only(sites) => sites.iter().any(|s| s == site),
        }
    }

    /// The list, `None` for every site (how the database and the API write it).
    pub fn as_list(&self) -> Option<&[String]> {
        match self {
            Sites::All => None,
            Sites::Only(sites) => Some(sites),
        }
    }
}

/// A key's sites, default site and permissions, consistent with each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyScope {
    /// Where it may send and what it may see.
    pub sites: Sites,
    /// Where its messages go when they name no site (one of `sites`).
    pub default_site: Option<String>,
    /// What it may do.
    pub permissions: BTreeSet<Permission>,
}

impl KeyScope {
    /// Every site and every permission: what keys made before scopes could do.
    pub fn unrestricted(default_site: Option<String>) -> Self {
        Self {
            sites: Sites::All,
            default_site,
            permissions: Permission::ALL.into_iter().collect(),
        }
    }

    /// Checks a scope as written by a client: `sites` `None` is every site, `permissions`
    /// `None` every permission. A single site without a default becomes the default.
    /// Errors name the field (`sites`, `site` or `permissions`).
    pub fn parse(
        sites: Option<&[String]>,
        default_site: Option<&str>,
        permissions: Option<&[String]>,
    ) -> Result<Self, FieldError> {
        let sites = match sites {
            None => Sites::All,
            Some([]) => {
                return Err(FieldError::new(
                    "invalid_sites",
                    "sites",
                    "`sites` lists at least one site; leave it out (or null) for every site",
                ));
            }
            Some(list) => {
                let mut ids = BTreeSet::new();
                for site in list {
                    let id: SiteId = site
                        .parse()
                        .map_err(|e| FieldError::new("invalid_sites", "sites", format!("{e}")))?;
                    ids.insert(id.to_string());
                }
                Sites::Only(ids.into_iter().collect())
            }
        };
        let default_site = match default_site {
            Some(site) => {
                let id: SiteId = site
                    .parse()
                    .map_err(|e| FieldError::new("invalid_site", "site", format!("{e}")))?;
                if !sites.contains(id.as_str()) {
                    return Err(FieldError::new(
                        "invalid_site",
                        "site",
                        format!("the default site {id} is not one of the key's `sites`"),
                    ));
                }
                Some(id.to_string())
            }
            None => match &sites {
                Sites::Only(only) if only.len() == 1 => only.first().cloned(),
                _ => None,
            },
        };
        let permissions = match permissions {
            None => Permission::ALL.into_iter().collect(),
            Some(list) => {
                let set = list
                    .iter()
                    .map(|p| p.trim().parse::<Permission>())
                    .collect::<Result<BTreeSet<_>, _>>()
                    .map_err(|e| {
                        FieldError::new("invalid_permissions", "permissions", e.to_string())
                    })?;
                if set.is_empty() {
                    return Err(FieldError::new(
                        "invalid_permissions",
                        "permissions",
                        "a key needs at least one of send, read, inbound and sites",
                    ));
                }
                set
            }
        };
        Ok(Self {
            sites,
            default_site,
            permissions,
        })
    }

    /// Reads a scope as the database stores it; unknown permission names (written by a
    /// later version) grant nothing.
    pub fn from_stored(
        sites: Option<Vec<String>>,
        default_site: Option<String>,
        permissions: &[String],
    ) -> Self {
        Self {
            sites: sites.map_or(Sites::All, Sites::Only),
            default_site,
            permissions: permissions.iter().filter_map(|p| p.parse().ok()).collect(),
        }
    }

    /// Whether the key may do `permission`.
    pub fn allows(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// The permissions as names, in their documented order.
    pub fn permission_names(&self) -> Vec<String> {
        self.permissions
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect()
    }

    /// The sites whose inbound SMS the key reads: `None` without the `inbound` permission,
    /// else its default site, or without one every site it may use.
    pub fn inbound_sites(&self) -> Option<Sites> {
        if !self.allows(Permission::Inbound) {
            return None;
        }
        Some(match &self.default_site {
            Some(site) => Sites::Only(vec![site.clone()]),
            None => self.sites.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_scope_defaults_to_everything_and_one_site_is_the_default() {
        let all = KeyScope::parse(None, None, None).expect("scope");
        assert_eq!(all, KeyScope::unrestricted(None));
        assert_eq!(all.inbound_sites(), Some(Sites::All));

        let one =
            KeyScope::parse(Some(&list(&["paris"])), None, Some(&list(&["send"]))).expect("scope");
        assert_eq!(one.default_site.as_deref(), Some("paris"));
        assert!(one.allows(Permission::Send) && !one.allows(Permission::Read));
        assert_eq!(one.inbound_sites(), None);

        let two =
            KeyScope::parse(Some(&list(&["paris", "lyon", "paris"])), None, None).expect("scope");
        assert_eq!(two.sites, Sites::Only(list(&["lyon", "paris"])));
        assert_eq!(two.default_site, None);
        assert!(two.sites.contains("lyon") && !two.sites.contains("nice"));
    }

    #[test]
    fn a_default_site_narrows_what_inbound_a_key_reads() {
        // Keys made before scopes: every site, inbound of their default site only.
        let legacy = KeyScope::unrestricted(Some("paris".into()));
        assert_eq!(legacy.inbound_sites(), Some(Sites::Only(list(&["paris"]))));
        assert!(legacy.sites.contains("lyon"));
    }

    #[test]
    fn bad_scopes_are_refused_by_field() {
        let code = |sites: Option<&[String]>, default: Option<&str>, perms: Option<&[String]>| {
            let e = KeyScope::parse(sites, default, perms).expect_err("refused");
            (e.code, e.field)
        };
        assert_eq!(
            code(Some(&[]), None, None),
            ("invalid_sites", "sites".into())
        );
        assert_eq!(
            code(Some(&list(&["Paris!"])), None, None),
            ("invalid_sites", "sites".into())
        );
        assert_eq!(
            code(Some(&list(&["paris"])), Some("lyon"), None),
            ("invalid_site", "site".into())
        );
        assert_eq!(
            code(None, Some("No!"), None),
            ("invalid_site", "site".into())
        );
        assert_eq!(
            code(None, None, Some(&list(&["admin"]))),
            ("invalid_permissions", "permissions".into())
        );
        assert_eq!(
            code(None, None, Some(&[])),
            ("invalid_permissions", "permissions".into())
        );
    }

    #[test]
    fn stored_scopes_read_back() {
        let scope = KeyScope::from_stored(
            Some(list(&["lyon"])),
            Some("lyon".into()),
            &list(&["read", "later-permission"]),
        );
        assert_eq!(scope.permission_names(), list(&["read"]));
        assert_eq!(scope.sites.as_list(), Some(&list(&["lyon"])[..]));
    }
}
