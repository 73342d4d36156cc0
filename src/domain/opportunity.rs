//! Improvement opportunities ("oportunidades de mejora"): their lifecycle, and which side may move
//! them. Atención Usuaria drafts and sends; the receiving department acknowledges, works on and
//! closes them; either side may mark a duplicate.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ticket::{string_enum, UnknownValue};

string_enum!(
    /// `draft` → `sent` → `acknowledged` → `in_progress` → `implemented` | `rejected`, or
    /// `duplicate` from any open state.
    OpportunityStatus {
        Draft => "draft",
        Sent => "sent",
        Acknowledged => "acknowledged",
        InProgress => "in_progress",
        Implemented => "implemented",
        Rejected => "rejected",
        Duplicate => "duplicate",
    }
);

/// Who acts: Atención Usuaria's staff, or the department the opportunity was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    AtencionUsuaria,
    Department,
}

impl OpportunityStatus {
    /// Implemented, rejected and duplicate are outcomes: nothing moves them again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Implemented | Self::Rejected | Self::Duplicate)
    }

    /// Outcomes the department must explain in a `resolution` (what was done, or why not): the
    /// Spanish message when it is missing, `None` for steps that need none.
    pub fn missing_resolution(self) -> Option<&'static str> {
        match self {
            Self::Implemented => Some("indique qué se implementó"),
            Self::Rejected => Some("indique el motivo del rechazo"),
            _ => None,
        }
    }

    /// Whether `side` may move an opportunity from `self` to `to` (the reason in Spanish if not).
    pub fn check(self, to: Self, side: Side) -> Result<(), &'static str> {
        use OpportunityStatus::*;
        if self.is_final() {
            return Err("la oportunidad ya está cerrada");
        }
        let allowed = match (self, to) {
            (Draft, Sent) => side == Side::AtencionUsuaria,
            (Sent, Acknowledged) | (Acknowledged, InProgress) => side == Side::Department,
            (Sent | Acknowledged | InProgress, Implemented | Rejected) => side == Side::Department,
            (Sent | Acknowledged | InProgress, Duplicate) => true,
            (Draft, Duplicate) => side == Side::AtencionUsuaria,
            _ => return Err("ese cambio de estado no existe"),
        };
        if allowed {
            Ok(())
        } else {
            Err("ese cambio de estado le corresponde a la otra parte")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OpportunityStatus::*;
    use super::*;

    #[test]
    fn both_outcomes_need_a_resolution() {
        assert!(Implemented.missing_resolution().is_some());
        assert!(Rejected.missing_resolution().is_some());
        for other in [Draft, Sent, Acknowledged, InProgress, Duplicate] {
            assert_eq!(other.missing_resolution(), None, "{other}");
        }
    }

    #[test]
    fn each_side_moves_its_own_steps() {
        let au = Side::AtencionUsuaria;
        let dept = Side::Department;
        assert_eq!(Draft.check(Sent, au), Ok(()));
        assert!(Draft.check(Sent, dept).is_err());
        assert_eq!(Sent.check(Acknowledged, dept), Ok(()));
        assert!(Sent.check(Acknowledged, au).is_err());
        assert_eq!(Acknowledged.check(InProgress, dept), Ok(()));
        for outcome in [Implemented, Rejected] {
            assert_eq!(InProgress.check(outcome, dept), Ok(()));
            assert_eq!(Sent.check(outcome, dept), Ok(()));
            assert!(InProgress.check(outcome, au).is_err());
        }
        assert_eq!(Sent.check(Duplicate, au), Ok(()));
        assert_eq!(InProgress.check(Duplicate, dept), Ok(()));
    }

    #[test]
    fn no_skipping_back_or_reopening() {
        assert_eq!(Draft.check(Implemented, Side::Department), Err("ese cambio de estado no existe"));
        assert_eq!(InProgress.check(Sent, Side::AtencionUsuaria), Err("ese cambio de estado no existe"));
        assert_eq!(Acknowledged.check(Draft, Side::AtencionUsuaria), Err("ese cambio de estado no existe"));
        for closed in [Implemented, Rejected, Duplicate] {
            assert!(closed.is_final());
            assert_eq!(closed.check(InProgress, Side::Department), Err("la oportunidad ya está cerrada"));
        }
        assert!(!Sent.is_final());
    }
}
