//! Where a message goes: the routing rule of `POST /api/v1/messages`, applied to a whole
//! group-commit batch at once ([`super::accept`]) within each key's scope of sites.

use std::collections::{HashMap, HashSet};

use sqlx::PgConnection;

use super::{auth::AuthenticatedKey, error::ApiError};
use crate::{
    domain::{FieldError, key_scope::Sites, new_message::NewMessage},
    store,
};

/// The site of each message of a batch, sent with its key: the message's own site if the
/// key may use it and it is registered, else the key's default site, else the router's
/// choice among the key's sites, asked once per distinct set of sites in the batch
/// (concurrent requests would all see the same queue lengths anyway).
pub async fn choose_sites(
    conn: &mut PgConnection,
    asks: &[(&AuthenticatedKey, &NewMessage)],
) -> Result<Vec<Result<String, ApiError>>, sqlx::Error> {
    let named: Vec<String> = asks
        .iter()
        .filter_map(|(_, message)| message.site.as_ref().map(|s| s.to_string()))
        .collect();
    let registered: HashSet<String> = if named.is_empty() {
        HashSet::new()
    } else {
        store::sites::registered(conn, &named)
            .await?
            .into_iter()
            .collect()
    };
    let mut routed: HashMap<&Sites, Option<String>> = HashMap::new();
    for (key, message) in asks {
        let scope = &key.scope;
        if message.site.is_none()
            && scope.default_site.is_none()
            && !routed.contains_key(&scope.sites)
        {
            let site = store::sites::pick_for_routing(conn, scope.sites.as_list()).await?;
            routed.insert(&scope.sites, site);
        }
    }
    Ok(asks
        .iter()
        .map(|(key, message)| match &message.site {
            Some(site) => {
                key.require_site(site.as_str())?;
                if registered.contains(site.as_str()) {
                    Ok(site.to_string())
                } else {
                    Err(ApiError::InvalidBody(FieldError::unknown_site(
                        site.as_str(),
                    )))
                }
            }
            None => key
                .scope
                .default_site
                .clone()
                .or_else(|| routed.get(&key.scope.sites).cloned().flatten())
                .ok_or(ApiError::NoSite),
        })
        .collect())
}
