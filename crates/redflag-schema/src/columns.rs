//! Canonical column names and the table that describes each column.

use arrow::datatypes::{DataType, Field};

use crate::{enum_type, timestamp_type};

macro_rules! column_table {
    ( $( $(#[$meta:meta])* $variant:ident, $konst:ident = $name:literal, $value:ident, $req:ident; )+ ) => {
        $( #[doc = concat!("`", $name, "`")] pub const $konst: &str = $name; )+

        /// A canonical column of the `transactions` table, in schema order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Column {
            $( $(#[$meta])* $variant ),+
        }

        impl Column {
            /// Every canonical column, in schema order.
            pub const ALL: &'static [Column] = &[ $( Column::$variant ),+ ];

            /// The column's name.
            pub fn name(self) -> &'static str {
                match self { $( Column::$variant => $name ),+ }
            }

            /// What the column holds, which decides how a text value is validated.
            pub fn value_kind(self) -> ValueKind {
                match self { $( Column::$variant => ValueKind::$value ),+ }
            }

            fn presence(self) -> Presence {
                match self { $( Column::$variant => Presence::$req ),+ }
            }
        }
    };
}

/// Whether an input must supply a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Required,
    Optional,
    Derived,
}

/// What a column holds; decides its Arrow type and how a text value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueKind {
    /// A non-empty identifier.
    Id,
    /// A point in time, stored as UTC microseconds.
    Timestamp,
    /// A positive, finite amount.
    Amount,
    /// An ISO 4217 code or an asset ticker: 2 to 10 of `A-Z0-9`, starting with a letter.
    Currency,
    /// One of [`crate::Channel`].
    Channel,
    /// One of [`crate::Status`].
    Status,
    /// One of [`crate::PartyKind`].
    PartyKind,
    /// Free text (empty means missing).
    Text,
    /// ISO 3166-1 alpha-2 country code.
    Country,
    /// ISO 18245 merchant category code, 4 digits.
    Mcc,
    /// Offset from UTC in minutes, -840 to 840.
    OffsetMinutes,
    /// A count (non-negative integer).
    Count,
    /// Computed at load, never read from input.
    Derived,
}

column_table! {
    /// Unique transaction id.
    TxnId, TXN_ID = "txn_id", Id, Required;
    /// Booking / authorisation time (UTC).
    Ts, TS = "ts", Timestamp, Required;
    /// Paying party.
    SenderId, SENDER_ID = "sender_id", Id, Required;
    /// Receiving party.
    ReceiverId, RECEIVER_ID = "receiver_id", Id, Required;
    /// Amount in `currency`.
    Amount, AMOUNT = "amount", Amount, Required;
    /// ISO 4217 code or asset ticker.
    Currency, CURRENCY = "currency", Currency, Required;
    /// Amount converted to the run's base currency (derived at load).
    AmountBase, AMOUNT_BASE = "amount_base", Derived, Derived;
    /// How value moved.
    Channel, CHANNEL = "channel", Channel, Required;
    /// Offset of the place of the transaction from UTC, minutes.
    LocalOffsetMin, LOCAL_OFFSET_MIN = "local_offset_min", OffsetMinutes, Optional;
    /// Outcome.
    Status, STATUS = "status", Status, Optional;
    /// What `sender_id` denotes.
    SenderKind, SENDER_KIND = "sender_kind", PartyKind, Optional;
    /// What `receiver_id` denotes.
    ReceiverKind, RECEIVER_KIND = "receiver_kind", PartyKind, Optional;
    /// KYC customer behind the sender.
    SenderCustomerId, SENDER_CUSTOMER_ID = "sender_customer_id", Text, Optional;
    /// KYC customer behind the receiver.
    ReceiverCustomerId, RECEIVER_CUSTOMER_ID = "receiver_customer_id", Text, Optional;
    /// Sender name as written on the payment.
    SenderName, SENDER_NAME = "sender_name", Text, Optional;
    /// Receiver name as written on the payment.
    ReceiverName, RECEIVER_NAME = "receiver_name", Text, Optional;
    /// Sender's institution.
    SenderInstitution, SENDER_INSTITUTION = "sender_institution", Text, Optional;
    /// Receiver's institution.
    ReceiverInstitution, RECEIVER_INSTITUTION = "receiver_institution", Text, Optional;
    /// Country of the sender's institution.
    SenderCountry, SENDER_COUNTRY = "sender_country", Country, Optional;
    /// Country of the receiver's institution.
    ReceiverCountry, RECEIVER_COUNTRY = "receiver_country", Country, Optional;
    /// Person who physically made a cash/branch transaction.
    ConductorId, CONDUCTOR_ID = "conductor_id", Text, Optional;
    /// Branch, ATM or terminal.
    LocationId, LOCATION_ID = "location_id", Text, Optional;
    /// City where the transaction happened.
    GeoCity, GEO_CITY = "geo_city", Text, Optional;
    /// Region where the transaction happened.
    GeoRegion, GEO_REGION = "geo_region", Text, Optional;
    /// Country where the transaction happened.
    GeoCountry, GEO_COUNTRY = "geo_country", Country, Optional;
    /// Merchant category code.
    Mcc, MCC = "mcc", Mcc, Optional;
    /// Acquirer merchant id.
    MerchantId, MERCHANT_ID = "merchant_id", Text, Optional;
    /// Cleaned merchant descriptor.
    MerchantName, MERCHANT_NAME = "merchant_name", Text, Optional;
    /// Device of an online / mobile session.
    DeviceId, DEVICE_ID = "device_id", Text, Optional;
    /// IP address of an online / mobile session.
    IpAddress, IP_ADDRESS = "ip_address", Text, Optional;
    /// Crypto chain.
    Chain, CHAIN = "chain", Text, Optional;
    /// Crypto asset.
    Asset, ASSET = "asset", Text, Optional;
    /// Crypto transaction hash.
    TxHash, TX_HASH = "tx_hash", Text, Optional;
    /// UTXO inputs.
    NInputs, N_INPUTS = "n_inputs", Count, Optional;
    /// UTXO outputs.
    NOutputs, N_OUTPUTS = "n_outputs", Count, Optional;
    /// Structured purpose code (e.g. ISO 20022 `SALA`).
    PurposeCode, PURPOSE_CODE = "purpose_code", Text, Optional;
}

impl Column {
    /// Looks a column up by its canonical name.
    pub fn from_name(name: &str) -> Option<Column> {
        Column::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// The input must supply it (directly, through a mapping, or as a constant).
    pub fn is_required(self) -> bool {
        self.presence() == Presence::Required
    }

    /// The input may supply it.
    pub fn is_optional(self) -> bool {
        self.presence() == Presence::Optional
    }

    /// Computed at load; an input that supplies it is ignored for it.
    pub fn is_derived(self) -> bool {
        self.presence() == Presence::Derived
    }

    /// The Arrow data type of the column in an accepted table.
    pub fn data_type(self) -> DataType {
        match self.value_kind() {
            ValueKind::Timestamp => timestamp_type(),
            ValueKind::Amount | ValueKind::Derived => DataType::Float64,
            ValueKind::Channel | ValueKind::Status | ValueKind::PartyKind => enum_type(),
            ValueKind::Mcc => DataType::UInt16,
            ValueKind::OffsetMinutes => DataType::Int16,
            ValueKind::Count => DataType::UInt32,
            ValueKind::Id => DataType::Utf8,
            ValueKind::Currency | ValueKind::Text | ValueKind::Country => crate::text_type(),
        }
    }

    /// The Arrow field of the column in an accepted table (required columns are non-null).
    pub fn field(self) -> Field {
        Field::new(self.name(), self.data_type(), self.is_optional())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for c in Column::ALL {
            assert_eq!(Column::from_name(c.name()), Some(*c));
        }
        let mut names: Vec<_> = Column::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Column::ALL.len());
        assert_eq!(Column::ALL.iter().filter(|c| c.is_required()).count(), 7);
    }
}
