//! The compliance policies this prover implements.

use crate::error::{Error, ErrorCode, Result};

/// A compliance policy over a private unsigned 64-bit amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// `aml.threshold`: amount < threshold.
    AmlThreshold,
    /// `order_total.cap`: amount <= cap.
    OrderTotalCap,
}

impl Policy {
    /// All policies, in code order.
    pub const ALL: [Policy; 2] = [Policy::AmlThreshold, Policy::OrderTotalCap];

    /// The wire id (`policyId`).
    pub const fn id(self) -> &'static str {
        match self {
            Self::AmlThreshold => "aml.threshold",
            Self::OrderTotalCap => "order_total.cap",
        }
    }

    /// The numeric code of the policy inside the VM statement.
    pub const fn code(self) -> u32 {
        match self {
            Self::AmlThreshold => 1,
            Self::OrderTotalCap => 2,
        }
    }

    /// The key of the limit inside `policyParams`.
    pub const fn param_key(self) -> &'static str {
        match self {
            Self::AmlThreshold => "threshold",
            Self::OrderTotalCap => "cap",
        }
    }

    /// Whether `amount` satisfies the policy with this `limit`.
    pub const fn holds(self, amount: u64, limit: u64) -> bool {
        match self {
            Self::AmlThreshold => amount < limit,
            Self::OrderTotalCap => amount <= limit,
        }
    }

    /// The relation as text, for messages.
    pub const fn relation(self) -> &'static str {
        match self {
            Self::AmlThreshold => "amount < threshold",
            Self::OrderTotalCap => "amount <= cap",
        }
    }

    /// Looks a policy up by its wire id.
    pub fn from_id(id: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|p| p.id() == id).ok_or_else(|| {
            Error::new(
                ErrorCode::UnsupportedPolicy,
                format!("policyId {id:?} is not supported; use \"aml.threshold\" or \"order_total.cap\""),
            )
        })
    }
}
