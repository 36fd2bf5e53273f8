use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The address of one resource in an estate: `<module>.<name>`.
///
/// Invariant: both parts are identifiers (`[a-z][a-z0-9_]*`, at most 64 bytes),
/// checked by [`Address::new`] and [`Address::from_str`]; no other constructor
/// exists, so every `Address` in the program is valid. Addresses order by
/// module, then name, which is the order every listing uses.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Address {
    module: String,
    name: String,
}

/// Why a string is not a valid [`Address`] or identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The string has no `.` separating module and name, or more than one.
    #[error("`{0}` is not a resource address: expected `<module>.<name>`, e.g. `data.postgres`")]
    Shape(String),
    /// One part is not an identifier.
    #[error(
        "`{0}` is not a valid identifier: use lowercase letters, digits and `_`, starting with a letter, at most 64 characters"
    )]
    Identifier(String),
}

/// Whether `s` is a valid module or resource identifier.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_lowercase() => {}
        _ => return false,
    }
    s.len() <= 64 && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks one identifier, returning the error that names it.
pub fn check_identifier(s: &str) -> Result<(), AddressError> {
    if is_identifier(s) {
        Ok(())
    } else {
        Err(AddressError::Identifier(s.to_string()))
    }
}

impl Address {
    /// Builds an address from its two parts, validating both.
    pub fn new(module: &str, name: &str) -> Result<Self, AddressError> {
        check_identifier(module)?;
        check_identifier(name)?;
        Ok(Address {
            module: module.to_string(),
            name: name.to_string(),
        })
    }

    /// The module part (the spec file the resource is declared in).
    pub fn module(&self) -> &str {
        &self.module
    }

    /// The resource part, unique within its module.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(m), Some(n), None) => Address::new(m, n),
            _ => Err(AddressError::Shape(s.to_string())),
        }
    }
}

impl TryFrom<String> for Address {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.to_string()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.module, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        let a: Address = "data.postgres".parse().unwrap();
        assert_eq!(a.module(), "data");
        assert_eq!(a.name(), "postgres");
        assert_eq!(a.to_string(), "data.postgres");
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in [
            "", "data", "a.b.c", "Data.x", "data.", ".x", "1a.b", "a.b-c", "a .b",
        ] {
            assert!(
                bad.parse::<Address>().is_err(),
                "{bad:?} should be rejected"
            );
        }
        let long = "a".repeat(65);
        assert!(Address::new(&long, "x").is_err());
    }

    #[test]
    fn serde_round_trip_validates() {
        let a: Address = "aks.user_pool".parse().unwrap();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"aks.user_pool\"");
        assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), a);
        assert!(serde_json::from_str::<Address>("\"Bad.addr\"").is_err());
    }
}
