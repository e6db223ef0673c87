//! The canonical transaction schema of redflag (`docs/SCHEMA.md`, version 1).
//!
//! Every input, whatever its layout, is mapped onto these columns before anything else runs.
//! This crate holds what the other crates agree on and nothing heavier than `arrow`:
//!
//! - [`columns`]: the column names, as constants, and [`Column`], the table of every canonical
//!   column with its Arrow type and whether it is required;
//! - [`Channel`], [`Status`] and [`PartyKind`]: the enumerations, stored in Arrow as
//!   dictionary arrays whose keys are the enum's discriminant;
//! - [`transactions_schema`]: the Arrow schema of an accepted `transactions` table, and
//!   [`Text`], which reads its text columns whether plain or dictionary-encoded.
//!
//! ```
//! use redflag_schema::{Channel, columns, transactions_schema};
//!
//! let schema = transactions_schema(&[columns::MCC]);
//! assert_eq!(schema.field(0).name(), "txn_id");
//! assert!(schema.index_of("amount_base").is_ok());
//! assert!(schema.index_of("mcc").is_ok());
//! assert_eq!("atm_withdrawal".parse::<Channel>(), Ok(Channel::AtmWithdrawal));
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

pub mod columns;
mod text;

pub use columns::Column;
pub use text::Text;

/// Version of the canonical schema implemented here (`docs/SCHEMA.md`).
pub const SCHEMA_VERSION: u32 = 1;

/// The party id used for cash: `sender_id` of cash paid in, `receiver_id` of cash paid out.
pub const CASH_PARTY: &str = "CASH";

/// Arrow type of `ts`: microseconds since the Unix epoch, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Arrow type of the enumerated columns (`channel`, `status`, `*_kind`): `UInt8` keys into the
/// enum's fixed value list ([`CanonicalEnum::dictionary_values`]), so a key is the discriminant.
pub fn enum_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::UInt8), Box::new(DataType::Utf8))
}

/// Arrow type of the text columns other than identifiers (names, customer ids, places,
/// devices, codes; see [`Text`]): `Int32` keys into the distinct values.
pub fn text_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The Arrow schema of an accepted `transactions` table.
///
/// It holds the required columns, `amount_base`, and the optional columns named in `optional`
/// (in canonical order, whatever the order given; names that are not optional canonical columns
/// are ignored). Optional columns that no input supplies are left out rather than filled with
/// nulls, so that a wide schema costs nothing when the data are narrow.
pub fn transactions_schema(optional: &[&str]) -> SchemaRef {
    let fields: Vec<Field> = Column::ALL
        .iter()
        .filter(|c| !c.is_optional() || optional.contains(&c.name()))
        .map(|c| c.field())
        .collect();
    Arc::new(Schema::new(fields))
}

/// Error returned when a text is not a value of a canonical enumeration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// The enumeration, e.g. `channel`.
    pub kind: &'static str,
    /// The text that matched none of its values.
    pub value: String,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} value {:?}", self.kind, self.value)
    }
}

impl std::error::Error for UnknownValue {}

/// Behaviour shared by the canonical enumerations.
pub trait CanonicalEnum: Copy + Sized + 'static {
    /// The name of the enumeration as used in messages (`channel`, `status`, ...).
    const KIND: &'static str;
    /// Every value, in discriminant order.
    const ALL: &'static [Self];
    /// The canonical spelling.
    fn as_str(self) -> &'static str;
    /// The Arrow dictionary key (the discriminant).
    fn key(self) -> u8;

    /// Parses the exact canonical spelling (no case folding, no trimming).
    fn parse_canonical(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == text)
    }

    /// The dictionary values array shared by every batch: entry `i` is the value with key `i`.
    fn dictionary_values() -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            Self::ALL.iter().map(|v| v.as_str()),
        ))
    }

    /// A comma-separated list of the canonical spellings, for messages.
    fn expected() -> String {
        Self::ALL
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

macro_rules! canonical_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:literal, { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[repr(u8)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl CanonicalEnum for $name {
            const KIND: &'static str = $kind;
            const ALL: &'static [Self] = &[ $( Self::$variant ),+ ];
            fn as_str(self) -> &'static str {
                match self { $( Self::$variant => $text ),+ }
            }
            fn key(self) -> u8 {
                self as u8
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse_canonical(s).ok_or_else(|| UnknownValue { kind: $kind, value: s.to_owned() })
            }
        }
    };
}

canonical_enum!(
    /// How value moved (`channel`).
    Channel, "channel", {
        /// Cash paid in at a branch.
        CashDeposit = "cash_deposit",
        /// Cash paid out at a branch.
        CashWithdrawal = "cash_withdrawal",
        /// Cash paid in at an ATM.
        AtmDeposit = "atm_deposit",
        /// Cash taken out at an ATM.
        AtmWithdrawal = "atm_withdrawal",
        /// Card used at a terminal.
        CardPresent = "card_present",
        /// Card used online or by phone.
        CardNotPresent = "card_not_present",
        /// Automated clearing house transfer.
        Ach = "ach",
        /// Domestic wire.
        WireDomestic = "wire_domestic",
        /// International wire.
        WireIntl = "wire_intl",
        /// Money services business remittance.
        RemittanceMsb = "remittance_msb",
        /// Person-to-person payment app.
        P2pApp = "p2p_app",
        /// Cheque.
        Cheque = "cheque",
        /// Purchase of a prepaid card.
        PrepaidPurchase = "prepaid_purchase",
        /// Load of a prepaid card.
        PrepaidLoad = "prepaid_load",
        /// Fiat to crypto.
        CryptoBuy = "crypto_buy",
        /// Crypto to fiat.
        CryptoSell = "crypto_sell",
        /// On-chain transfer.
        CryptoTransfer = "crypto_transfer",
        /// Between accounts of the same institution and holder.
        Internal = "internal",
        /// Anything else, when a profile maps it so explicitly.
        Other = "other",
    }
);

impl Channel {
    /// Cash or ATM movements (deposit or withdrawal).
    pub fn is_cash(self) -> bool {
        matches!(
            self,
            Self::CashDeposit | Self::CashWithdrawal | Self::AtmDeposit | Self::AtmWithdrawal
        )
    }
}

canonical_enum!(
    /// Outcome of a transaction (`status`); `completed` when the column is absent.
    Status, "status", {
        /// Booked.
        Completed = "completed",
        /// Started but not finished.
        Attempted = "attempted",
        /// Refused by the institution.
        Declined = "declined",
        /// Booked, then reversed.
        Reversed = "reversed",
    }
);

canonical_enum!(
    /// What a party id denotes (`sender_kind`, `receiver_kind`).
    PartyKind, "party kind", {
        /// A bank account.
        Account = "account",
        /// A payment card (token).
        Card = "card",
        /// A crypto wallet address or cluster.
        Wallet = "wallet",
        /// A merchant.
        Merchant = "merchant",
        /// Cash (the `CASH` sentinel).
        Cash = "cash",
        /// A party outside the reporting institution.
        External = "external",
    }
);

/// Column names that a mapping profile may never create: protected attributes
/// (`docs/SCHEMA.md`, "No protected attributes"; `docs/INDICATORS.md` §4).
pub const PROTECTED_ATTRIBUTES: &[&str] = &[
    "sex",
    "gender",
    "age",
    "date_of_birth",
    "birth_date",
    "race",
    "ethnicity",
    "nationality",
    "citizenship",
    "religion",
    "language",
    "immigration_status",
    "country_of_birth",
    "surname",
];

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;

    #[test]
    fn enum_keys_index_their_dictionary() {
        let values = Channel::dictionary_values();
        let values = values.as_any().downcast_ref::<StringArray>().expect("utf8");
        for c in Channel::ALL {
            assert_eq!(values.value(c.key() as usize), c.as_str());
            assert_eq!(c.as_str().parse::<Channel>(), Ok(*c));
        }
        assert_eq!(values.len(), 19);
    }

    #[test]
    fn unknown_value_names_the_enum() {
        let e = "Wire".parse::<Channel>().expect_err("not canonical");
        assert_eq!(e.to_string(), "unknown channel value \"Wire\"");
    }

    #[test]
    fn schema_keeps_canonical_order_and_only_requested_optionals() {
        let s = transactions_schema(&[columns::MCC, columns::LOCAL_OFFSET_MIN, "nonsense"]);
        let names: Vec<&str> = s.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "txn_id",
                "ts",
                "sender_id",
                "receiver_id",
                "amount",
                "currency",
                "amount_base",
                "channel",
                "local_offset_min",
                "mcc"
            ]
        );
        assert!(!s.field(0).is_nullable());
        assert!(s.field(9).is_nullable());
    }
}
