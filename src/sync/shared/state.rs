//! The record state in Redis, beside the shared queue (keys in the module docs of
//! [`super`]): any worker knows whether a record is unchanged, and `find_duplicates`,
//! `sync --status` and reconcile read the same records from every process.
//!
//! Writes that touch several keys (a record, its id in the type's sorted set, its duplicate
//! groups and their sizes) are one script each, so a reader never sees a record half written.

use std::collections::HashMap;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use secrecy::SecretString;

use crate::sync::seams::{Claim, ClaimRequest, QueueError, RecordRow, RecordState};

/// Record digests, applied versions and checkpoints in Redis.
#[derive(Clone)]
pub struct RedisState {
    conn: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisState")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Removes a record's duplicate-group memberships (from its old row) and, with a new row,
/// adds the new ones; releases the record's claim; a deletion leaves a tombstone (its time,
/// kept a day). KEYS: rec. ARGV: prefix, now ms, then per row: ref, new row JSON or ''.
const PUT: &str = r"
local p = ARGV[1]
local fields = {'email', 'domain', 'phone'}
local function str(v) if type(v) == 'string' and v ~= '' then return v end return nil end
for i = 3, #ARGV - 1, 2 do
  local ref, json = ARGV[i], ARGV[i + 1]
  redis.call('DEL', p .. ':claim:' .. ref)
  local old = redis.call('HGET', KEYS[1], ref)
  local o = old and cjson.decode(old) or {}
  local n = json ~= '' and cjson.decode(json) or {}
  for _, f in ipairs(fields) do
    local ov, nv = str(o[f]), str(n[f])
    if ov and ov ~= nv then
      if redis.call('SREM', p .. ':dup:' .. f .. ':' .. ov, ref) == 1 then
        if tonumber(redis.call('ZINCRBY', p .. ':dupn:' .. f, -1, ov)) <= 0 then
          redis.call('ZREM', p .. ':dupn:' .. f, ov)
        end
      end
    end
    if nv and nv ~= ov then
      if redis.call('SADD', p .. ':dup:' .. f .. ':' .. nv, ref) == 1 then
        redis.call('ZINCRBY', p .. ':dupn:' .. f, 1, nv)
      end
    end
  end
  if old and o.object_type then
    redis.call('ZREM', p .. ':ids:' .. o.object_type, o.id)
  end
  if json == '' then
    redis.call('HDEL', KEYS[1], ref)
    redis.call('SET', p .. ':tomb:' .. ref, ARGV[2], 'PX', 86400000)
  else
    redis.call('HSET', KEYS[1], ref, json)
    redis.call('SADD', p .. ':types', n.object_type)
    local num = tonumber(n.id)
    if num then redis.call('ZADD', p .. ':ids:' .. n.object_type, num, n.id) end
  end
end
return 1
";

/// One claim per record. KEYS: rec. ARGV: prefix, ttl ms, then per record: ref, digest,
/// updated ms (-1: unknown), read ms. 0 granted, 1 unchanged, 2 contended, 3 stale.
const CLAIM: &str = r"
local out = {}
for i = 3, #ARGV - 3, 4 do
  local ref, digest = ARGV[i], ARGV[i + 1]
  local updated, read = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local cur = redis.call('HGET', KEYS[1], ref)
  local c = cur and cjson.decode(cur) or nil
  local tomb = tonumber(redis.call('GET', ARGV[1] .. ':tomb:' .. ref) or '')
  if c and c.digest == digest then
    table.insert(out, 1)
  elseif c and updated >= 0 and type(c.updated_ms) == 'number' and updated < c.updated_ms then
    table.insert(out, 3)
  elseif (not c) and tomb and tomb >= read then
    table.insert(out, 3)
  elseif redis.call('SET', ARGV[1] .. ':claim:' .. ref, digest, 'NX', 'PX', ARGV[2]) then
    table.insert(out, 0)
  else
    table.insert(out, 2)
  end
end
return out
";

/// KEYS: applied. ARGV: ref, ms pairs. Never lowers a value.
const MARK: &str = r"
for i = 1, #ARGV - 1, 2 do
  local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '-1')
  if tonumber(ARGV[i + 1]) > cur then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1
";

impl RedisState {
    /// Connects (reconnecting later by itself).
    ///
    /// # Errors
    /// The URL is not a Redis URL, or Redis does not answer.
    pub async fn connect(url: &SecretString, prefix: &str) -> Result<Self, QueueError> {
        Ok(Self {
            conn: super::connect(url, prefix).await?,
            prefix: prefix.to_string(),
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    fn err(&self, e: impl std::fmt::Display) -> QueueError {
        QueueError::Shared {
            prefix: self.prefix.clone(),
            message: e.to_string(),
        }
    }

    async fn write(&self, pairs: Vec<(String, String)>, now_ms: i64) -> Result<(), QueueError> {
        // Bounded scripts: a backfill block writes 1,000 rows.
        for chunk in pairs.chunks(500) {
            let script = redis::Script::new(PUT);
            let mut inv = script.prepare_invoke();
            inv.key(self.key("rec")).arg(&self.prefix).arg(now_ms);
            for (r, json) in chunk {
                inv.arg(r).arg(json);
            }
            let _: i64 = inv
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    async fn rows(&self, refs: &[String]) -> Result<Vec<Option<RecordRow>>, QueueError> {
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        let raw: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.key("rec"))
            .arg(refs)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        Ok(raw
            .into_iter()
            .map(|r| r.and_then(|j| serde_json::from_str(&j).ok()))
            .collect())
    }
}

#[async_trait]
impl RecordState for RedisState {
    async fn digests(&self, refs: &[String]) -> Result<HashMap<String, String>, QueueError> {
        Ok(refs
            .iter()
            .zip(self.rows(refs).await?)
            .filter_map(|(r, row)| Some((r.clone(), row?.digest)))
            .collect())
    }

    async fn put_records(&self, rows: &[RecordRow]) -> Result<(), QueueError> {
        let pairs = rows
            .iter()
            .map(|r| {
                Ok((
                    r.reference.clone(),
                    serde_json::to_string(r).map_err(|e| self.err(e))?,
                ))
            })
            .collect::<Result<Vec<_>, QueueError>>()?;
        self.write(pairs, 0).await
    }

    async fn delete_records(&self, refs: &[String], now_ms: i64) -> Result<(), QueueError> {
        self.write(
            refs.iter().map(|r| (r.clone(), String::new())).collect(),
            now_ms,
        )
        .await
    }

    async fn record_versions_page(
        &self,
        object_type: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Option<i64>)>, QueueError> {
        let min = if after == i64::MIN {
            "-inf".to_string()
        } else {
            format!("({after}")
        };
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.key(&format!("ids:{object_type}")))
            .arg(min)
            .arg("+inf")
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(limit.max(1))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        let refs: Vec<String> = ids.iter().map(|id| format!("{object_type}/{id}")).collect();
        let rows = self.rows(&refs).await?;
        Ok(ids
            .iter()
            .zip(rows)
            .filter_map(|(id, row)| Some((id.parse().ok()?, row.and_then(|r| r.updated_ms))))
            .collect())
    }

    async fn record_counts(&self) -> Result<Vec<(String, u64)>, QueueError> {
        let mut types: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.key("types"))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        types.sort();
        let mut out = Vec::new();
        for t in types {
            let n: u64 = redis::cmd("ZCARD")
                .arg(self.key(&format!("ids:{t}")))
                .query_async(&mut self.conn.clone())
                .await
                .map_err(|e| self.err(e))?;
            if n > 0 {
                out.push((t, n));
            }
        }
        Ok(out)
    }

    async fn duplicates(
        &self,
        field: &str,
        object_type: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<RecordRow>)>, QueueError> {
        if !crate::sync::seams::records::DUPLICATE_FIELDS.contains(&field) {
            return Err(QueueError::Invalid(format!(
                "{field} (use email, domain or phone)"
            )));
        }
        // Values shared by at least two records, largest groups first.
        let values: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(self.key(&format!("dupn:{field}")))
            .arg("+inf")
            .arg(2)
            .arg("BYSCORE")
            .arg("REV")
            .arg("WITHSCORES")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        let mut groups = Vec::new();
        for (value, _) in values {
            let mut refs: Vec<String> = redis::cmd("SMEMBERS")
                .arg(self.key(&format!("dup:{field}:{value}")))
                .query_async(&mut self.conn.clone())
                .await
                .map_err(|e| self.err(e))?;
            refs.sort();
            let rows: Vec<RecordRow> = self
                .rows(&refs)
                .await?
                .into_iter()
                .flatten()
                .filter(|r| object_type.is_none_or(|t| r.object_type == t))
                .collect();
            if rows.len() > 1 {
                groups.push((value, rows));
            }
        }
        groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
        groups.truncate(limit);
        Ok(groups)
    }

    async fn claim(&self, writes: &[ClaimRequest], ttl_ms: i64) -> Result<Vec<Claim>, QueueError> {
        let mut out = Vec::with_capacity(writes.len());
        for chunk in writes.chunks(250) {
            let script = redis::Script::new(CLAIM);
            let mut inv = script.prepare_invoke();
            inv.key(self.key("rec"))
                .arg(&self.prefix)
                .arg(ttl_ms.max(1));
            for w in chunk {
                inv.arg(&w.reference)
                    .arg(&w.digest)
                    .arg(w.updated_ms.unwrap_or(-1))
                    .arg(w.read_ms);
            }
            let codes: Vec<i64> = inv
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(|e| self.err(e))?;
            out.extend(codes.into_iter().map(|c| match c {
                0 => Claim::Granted,
                1 => Claim::Unchanged,
                3 => Claim::Stale,
                _ => Claim::Contended,
            }));
        }
        Ok(out)
    }

    async fn release(&self, refs: &[String]) -> Result<(), QueueError> {
        if refs.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = refs
            .iter()
            .map(|r| self.key(&format!("claim:{r}")))
            .collect();
        let _: i64 = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn applied_at(&self, refs: &[String]) -> Result<HashMap<String, i64>, QueueError> {
        if refs.is_empty() {
            return Ok(HashMap::new());
        }
        let raw: Vec<Option<i64>> = redis::cmd("HMGET")
            .arg(self.key("applied"))
            .arg(refs)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        Ok(refs
            .iter()
            .zip(raw)
            .filter_map(|(r, v)| Some((r.clone(), v?)))
            .collect())
    }

    async fn mark_applied(&self, marks: &[(String, i64)]) -> Result<(), QueueError> {
        for chunk in marks.chunks(500) {
            let script = redis::Script::new(MARK);
            let mut inv = script.prepare_invoke();
            inv.key(self.key("applied"));
            for (r, at) in chunk {
                inv.arg(r).arg(at);
            }
            let _: i64 = inv
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<String>, QueueError> {
        redis::cmd("HGET")
            .arg(self.key("checkpoints"))
            .arg(name)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))
    }

    async fn checkpoints_under(&self, prefix: &str) -> Result<Vec<(String, String)>, QueueError> {
        let all: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.key("checkpoints"))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        let mut out: Vec<(String, String)> = all
            .into_iter()
            .filter_map(|(n, v)| Some((n.strip_prefix(prefix)?.to_string(), v)))
            .collect();
        out.sort();
        Ok(out)
    }

    async fn set_checkpoint(&self, name: &str, value: Option<&str>) -> Result<(), QueueError> {
        let cmd = match value {
            Some(v) => {
                let mut c = redis::cmd("HSET");
                c.arg(self.key("checkpoints")).arg(name).arg(v);
                c
            }
            None => {
                let mut c = redis::cmd("HDEL");
                c.arg(self.key("checkpoints")).arg(name);
                c
            }
        };
        let _: i64 = cmd
            .query_async(&mut self.conn.clone())
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
