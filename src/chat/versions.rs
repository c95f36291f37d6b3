//! Published playbook versions, parsed once. A version never changes after publishing, so
//! a parsed copy can be kept for as long as the process lives (within a size bound). Beside
//! them, what turns keep of each company until it changes ([`CompanyCache`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::cache::CompanyCache;
use crate::db::playbooks::{self, Published};
use crate::db::{DbConn, DbError};

/// Most versions kept; past that the cache starts over (versions are cheap to re-read).
const MAX_ENTRIES: usize = 4096;

/// One cached version and the company it belongs to.
type Entry = (String, Arc<Published>);

#[derive(Debug, Default)]
pub struct VersionCache {
    map: RwLock<HashMap<String, Entry>>,
    /// The companies' settings, published playbooks and answer rules.
    pub companies: Arc<CompanyCache>,
}

impl VersionCache {
    pub fn new() -> VersionCache {
        VersionCache::default()
    }

    /// With the companies kept in `companies` (the cache the hub drops changes from).
    pub fn with_companies(companies: Arc<CompanyCache>) -> VersionCache {
        VersionCache {
            map: RwLock::default(),
            companies,
        }
    }

    /// The published version `version_id` of the company's playbook, if it exists.
    pub fn get(
        &self,
        conn: &mut DbConn,
        company_id: &str,
        version_id: &str,
    ) -> Result<Option<Arc<Published>>, DbError> {
        if let Some((company, hit)) = self.read().get(version_id)
            && company == company_id
        {
            return Ok(Some(hit.clone()));
        }
        let Some(published) = playbooks::version(conn, company_id, version_id)? else {
            return Ok(None);
        };
        let published = Arc::new(published);
        let mut map = self.write();
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            version_id.to_owned(),
            (company_id.to_owned(), published.clone()),
        );
        Ok(Some(published))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.map.write().unwrap_or_else(|e| e.into_inner())
    }
}
