use super::db::Store;
use super::error::StoreError;
use super::schema;
use crate::model::{Stack, UtcTime};

/// A copy of a generation taken before a production apply (the equivalent
/// of `terraform state pull > backup.tfstate` in seed 004's procedure).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StateBackup {
    /// The stack.
    pub stack: String,
    /// The generation it copies.
    pub generation: u64,
    /// When it was taken.
    pub taken_at: UtcTime,
    /// The state file (JSON, secrets redacted) of that generation.
    pub state: String,
}

impl Store {
    /// Keeps a backup of generation `generation` of `stack` (its state file).
    pub fn put_backup(
        &self,
        stack: &Stack,
        generation: u64,
        state: String,
    ) -> Result<(), StoreError> {
        let b = StateBackup {
            stack: stack.key(),
            generation,
            taken_at: self.clock.now(),
            state,
        };
        let bytes = super::codec::encode(&b).map_err(|source| StoreError::Encode {
            what: "backup",
            source,
        })?;
        let key = stack.key();
        self.write(|w| {
            w.open_table(schema::BACKUPS)?
                .insert((key.as_str(), generation), bytes.as_slice())?;
            Ok(())
        })
    }

    /// The backups of a stack, oldest first.
    pub fn backups(&self, stack: &Stack) -> Result<Vec<StateBackup>, StoreError> {
        let key = stack.key();
        self.read(|r| {
            let t = r.open_table(schema::BACKUPS)?;
            let mut out = Vec::new();
            for row in t.range((key.as_str(), 0)..=(key.as_str(), u64::MAX))? {
                let (k, v) = row?;
                out.push(super::codec::decode(v.value()).map_err(|source| {
                    StoreError::Corrupt {
                        table: "backups",
                        key: format!("{}#{}", k.value().0, k.value().1),
                        source,
                    }
                })?);
            }
            Ok(out)
        })
    }
}
