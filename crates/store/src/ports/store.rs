//! The whole store as one object: every port below.

use super::{
    ActivationStore, AuditStore, AuthRequestStore, BulkStore, ChannelStore, ChipStore,
    CodeDisplayStore, DeviceStore, GrantStore, IdentityStore, MetaStore, OidcStore, OutboxStore,
    PairingStore, PasswordStore, PushStore, SelfServiceStore, ServiceProviderStore, SignalStore,
    SigningKeyStore, SweepStore,
};

/// Everything a server or operator command needs, as one object.
pub trait Store:
    IdentityStore
    + GrantStore
    + ActivationStore
    + DeviceStore
    + PairingStore
    + CodeDisplayStore
    + ChipStore
    + ChannelStore
    + SigningKeyStore
    + OidcStore
    + AuthRequestStore
    + PasswordStore
    + OutboxStore
    + PushStore
    + SelfServiceStore
    + ServiceProviderStore
    + AuditStore
    + MetaStore
    + BulkStore
    + SweepStore
    + SignalStore
    + Send
    + Sync
{
    /// Which backend this is, for logs and `/readyz`.
    fn backend(&self) -> &'static str;
}
