//! What the invitee consults: contacts, application registrations and the
//! invitation policy.
//!
//! The invitee asks a [`Directory`] at the moment each decision is made, so
//! a contact blocked while a handshake is under way is refused. The core
//! ships one implementation, [`FixedDirectory`], whose capacities are fixed
//! at compile time; the desktop adapter persists one, a firmware builds one
//! at start-up.

use heapless::{String, Vec};

use crate::error::{ArgumentError, Error, Refusal};
use crate::identity::PublicKey;
use crate::invitation::ApplicationId;
use crate::limits::{chars_within, MAX_NAME_CHARS, MAX_REGISTRATIONS};

/// Who may invite this peer (the reference's "invitations off" and "only
/// from trusted contacts" settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Policy {
    /// No invitations at all. Refused in clear, before the handshake.
    Off,
    /// Only contacts in the directory that are not blocked.
    #[default]
    TrustedOnly,
    /// Anyone not blocked.
    Anyone,
}

/// A contact's watcher permission (the reference's `PEER_WATCH_PERMISSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Permission {
    /// May invite (subject to the policy).
    #[default]
    Allowed,
    /// Never may invite, whatever the policy.
    Blocked,
}

/// What the invitee consults. It is asked two questions, each answered
/// from one view of it, so that no verdict mixes two versions of a
/// directory that changes meanwhile:
///
/// * at each Hello, before any expensive work, the [`policy`](Self::policy)
///   (only `Off` matters then);
/// * once per authenticated Invite, the [`facts`](Self::facts) about its
///   inviter and application. The core, not the directory, turns them
///   into a verdict ([`Facts::refusal`]), in the order of
///   `docs/protocol.md` §9.2.
pub trait Directory {
    /// The invitation policy now.
    fn policy(&self) -> Policy;
    /// Everything the verdict on an invitation from `inviter` to
    /// `application` needs, as of now.
    fn facts(&self, inviter: &PublicKey, application: &ApplicationId) -> Facts;
}

/// What a [`Directory`] knows about one invitation: one consistent set of
/// facts, from which the core decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Facts {
    /// The invitation policy.
    pub policy: Policy,
    /// The inviter's permission if it is a contact, `None` if it is not.
    pub permission: Option<Permission>,
    /// Whether the application is registered.
    pub registered: bool,
}

impl Facts {
    /// Whether the inviter is a contact that may invite.
    pub fn is_contact(&self) -> bool {
        self.permission == Some(Permission::Allowed)
    }

    /// The verdict on an authenticated inviter, `None` to prompt. The first
    /// of these that applies (`docs/protocol.md` §9.2): invitations off,
    /// blocked, not trusted, too large for this device (`too_large`),
    /// application not registered. The application comes last, so that a
    /// stranger learns nothing about which applications are registered.
    pub fn refusal(&self, too_large: bool) -> Option<Refusal> {
        match (self.policy, self.permission) {
            (Policy::Off, _) => Some(Refusal::InvitationsOff),
            (_, Some(Permission::Blocked)) => Some(Refusal::Blocked),
            (Policy::TrustedOnly, None) => Some(Refusal::NotTrusted),
            _ if too_large => Some(Refusal::TooLarge),
            _ if !self.registered => Some(Refusal::ApplicationNotRegistered),
            _ => None,
        }
    }
}

/// A contact (the reference's `PEER_CONTACT`): a key, a nickname, a display
/// name, and whether it may invite. Names are at most 255 characters and at
/// most `NAME` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact<const NAME: usize = 64> {
    key: PublicKey,
    nickname: String<NAME>,
    display_name: String<NAME>,
    permission: Permission,
}

fn bounded_name<const NAME: usize>(s: &str, may_be_empty: bool) -> Result<String<NAME>, Error> {
    if s.is_empty() && !may_be_empty {
        return Err(ArgumentError::Empty.into());
    }
    if !chars_within(s, MAX_NAME_CHARS) {
        return Err(ArgumentError::TooLong.into());
    }
    String::try_from(s).map_err(|_| ArgumentError::TooLong.into())
}

impl<const NAME: usize> Contact<NAME> {
    /// Makes a contact. The nickname must not be empty; the display name
    /// may be. Over-long names are `InvalidArgument(TooLong)`.
    pub fn new(key: PublicKey, nickname: &str, display_name: &str) -> Result<Self, Error> {
        Ok(Contact {
            key,
            nickname: bounded_name(nickname, false)?,
            display_name: bounded_name(display_name, true)?,
            permission: Permission::Allowed,
        })
    }

    /// The same contact with another permission.
    pub fn with_permission(mut self, permission: Permission) -> Self {
        self.permission = permission;
        self
    }

    /// The contact's key: its identity.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }
    /// The nickname, unique in a directory.
    pub fn nickname(&self) -> &str {
        &self.nickname
    }
    /// The display name, which need not be unique.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }
    /// Whether the contact may invite.
    pub fn permission(&self) -> Permission {
        self.permission
    }
}

/// An application registration (the reference's
/// `PeerCollabRegisterApplication`): an id and a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration<const NAME: usize = 64> {
    id: ApplicationId,
    description: String<NAME>,
}

impl<const NAME: usize> Registration<NAME> {
    /// The application's id.
    pub fn id(&self) -> ApplicationId {
        self.id
    }
    /// Its description.
    pub fn description(&self) -> &str {
        &self.description
    }
}

/// A directory with room for `CONTACTS` contacts and `APPS` registrations
/// (at most 64, the reference's limit), names of at most `NAME` bytes.
/// Every addition beyond a capacity is [`Error::CapacityFull`] and changes
/// nothing.
#[derive(Debug, Clone)]
pub struct FixedDirectory<const CONTACTS: usize, const APPS: usize = 8, const NAME: usize = 64> {
    policy: Policy,
    contacts: Vec<Contact<NAME>, CONTACTS>,
    apps: Vec<Registration<NAME>, APPS>,
}

impl<const CONTACTS: usize, const APPS: usize, const NAME: usize> Default
    for FixedDirectory<CONTACTS, APPS, NAME>
{
    fn default() -> Self {
        Self::new(Policy::default())
    }
}

impl<const CONTACTS: usize, const APPS: usize, const NAME: usize>
    FixedDirectory<CONTACTS, APPS, NAME>
{
    const APPS_WITHIN_REFERENCE_LIMIT: () = assert!(
        APPS <= MAX_REGISTRATIONS,
        "at most 64 application registrations"
    );

    /// An empty directory with this policy.
    pub const fn new(policy: Policy) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::APPS_WITHIN_REFERENCE_LIMIT;
        FixedDirectory {
            policy,
            contacts: Vec::new(),
            apps: Vec::new(),
        }
    }

    /// Sets the invitation policy.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// Adds a contact. Refuses a key or nickname already present
    /// (`InvalidArgument`) and a full directory (`CapacityFull`).
    pub fn add_contact(&mut self, contact: Contact<NAME>) -> Result<(), Error> {
        if self.contact(contact.key()).is_some() {
            return Err(ArgumentError::DuplicateKey.into());
        }
        if self.contact_named(contact.nickname()).is_some() {
            return Err(ArgumentError::DuplicateName.into());
        }
        self.contacts.push(contact).map_err(|_| Error::CapacityFull)
    }

    /// Removes the contact with this key.
    pub fn remove_contact(&mut self, key: &PublicKey) -> Result<Contact<NAME>, Error> {
        let i = self
            .contacts
            .iter()
            .position(|c| c.key() == key)
            .ok_or(Error::ContactNotFound)?;
        Ok(self.contacts.swap_remove(i))
    }

    /// Blocks or allows the contact with this key.
    pub fn set_permission(&mut self, key: &PublicKey, permission: Permission) -> Result<(), Error> {
        let c = self
            .contacts
            .iter_mut()
            .find(|c| c.key() == key)
            .ok_or(Error::ContactNotFound)?;
        c.permission = permission;
        Ok(())
    }

    /// The contact with this key.
    pub fn contact(&self, key: &PublicKey) -> Option<&Contact<NAME>> {
        self.contacts.iter().find(|c| c.key() == key)
    }

    /// The contact with this nickname.
    pub fn contact_named(&self, nickname: &str) -> Option<&Contact<NAME>> {
        self.contacts.iter().find(|c| c.nickname() == nickname)
    }

    /// Every contact.
    pub fn contacts(&self) -> impl Iterator<Item = &Contact<NAME>> {
        self.contacts.iter()
    }

    /// Registers an application. Refuses an id already registered
    /// (`InvalidArgument`), an over-long description, and a full table
    /// (`CapacityFull`).
    pub fn register(&mut self, id: ApplicationId, description: &str) -> Result<(), Error> {
        if self.registration(&id).is_some() {
            return Err(ArgumentError::DuplicateApplication.into());
        }
        let description = bounded_name(description, true)?;
        self.apps
            .push(Registration { id, description })
            .map_err(|_| Error::CapacityFull)
    }

    /// Removes a registration.
    pub fn unregister(&mut self, id: &ApplicationId) -> Result<(), Error> {
        let i = self
            .apps
            .iter()
            .position(|r| &r.id == id)
            .ok_or(Error::NotFound)?;
        self.apps.swap_remove(i);
        Ok(())
    }

    /// The registration of this application.
    pub fn registration(&self, id: &ApplicationId) -> Option<&Registration<NAME>> {
        self.apps.iter().find(|r| &r.id == id)
    }

    /// Every registration.
    pub fn registrations(&self) -> impl Iterator<Item = &Registration<NAME>> {
        self.apps.iter()
    }
}

impl<const CONTACTS: usize, const APPS: usize, const NAME: usize> Directory
    for FixedDirectory<CONTACTS, APPS, NAME>
{
    fn policy(&self) -> Policy {
        self.policy
    }
    fn facts(&self, inviter: &PublicKey, application: &ApplicationId) -> Facts {
        Facts {
            policy: self.policy,
            permission: self.contact(inviter).map(Contact::permission),
            registered: self.registration(application).is_some(),
        }
    }
}

impl<D: Directory + ?Sized> Directory for &D {
    fn policy(&self) -> Policy {
        (**self).policy()
    }
    fn facts(&self, inviter: &PublicKey, application: &ApplicationId) -> Facts {
        (**self).facts(inviter, application)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn key(n: u8) -> PublicKey {
        Identity::from_seed(&[n; 32]).public_key()
    }

    #[test]
    fn a_full_directory_is_capacity_full_and_unchanged() {
        let mut dir = FixedDirectory::<2, 1>::new(Policy::Anyone);
        dir.add_contact(Contact::new(key(1), "a", "").unwrap())
            .unwrap();
        dir.add_contact(Contact::new(key(2), "b", "").unwrap())
            .unwrap();
        assert_eq!(
            dir.add_contact(Contact::new(key(3), "c", "").unwrap()),
            Err(Error::CapacityFull)
        );
        assert_eq!(dir.contacts().count(), 2);
        let app = ApplicationId::from_bytes([1; 16]);
        dir.register(app, "chess").unwrap();
        assert_eq!(
            dir.register(ApplicationId::from_bytes([2; 16]), "go"),
            Err(Error::CapacityFull)
        );
    }

    #[test]
    fn duplicates_are_argument_errors() {
        let mut dir = FixedDirectory::<4>::new(Policy::Anyone);
        dir.add_contact(Contact::new(key(1), "a", "").unwrap())
            .unwrap();
        assert_eq!(
            dir.add_contact(Contact::new(key(1), "z", "").unwrap()),
            Err(ArgumentError::DuplicateKey.into())
        );
        assert_eq!(
            dir.add_contact(Contact::new(key(2), "a", "").unwrap()),
            Err(ArgumentError::DuplicateName.into())
        );
    }

    #[test]
    fn names_are_bounded() {
        assert_eq!(
            Contact::<8>::new(key(1), "123456789", "").unwrap_err(),
            ArgumentError::TooLong.into()
        );
        assert_eq!(
            Contact::<8>::new(key(1), "", "").unwrap_err(),
            ArgumentError::Empty.into()
        );
    }

    #[test]
    fn blocking_changes_the_permission() {
        let mut dir = FixedDirectory::<4>::new(Policy::Anyone);
        dir.add_contact(Contact::new(key(1), "a", "").unwrap())
            .unwrap();
        dir.set_permission(&key(1), Permission::Blocked).unwrap();
        assert_eq!(
            dir.contact(&key(1)).map(Contact::permission),
            Some(Permission::Blocked)
        );
        assert_eq!(
            dir.set_permission(&key(2), Permission::Blocked),
            Err(Error::ContactNotFound)
        );
    }

    #[test]
    fn the_verdict_follows_the_order_of_the_refusals() {
        let facts = |policy, permission, registered| Facts {
            policy,
            permission,
            registered,
        };
        let blocked = Some(Permission::Blocked);
        let allowed = Some(Permission::Allowed);
        // Off wins over everything, blocked over not trusted, not trusted
        // over too large, too large over the application.
        assert_eq!(
            facts(Policy::Off, blocked, false).refusal(true),
            Some(Refusal::InvitationsOff)
        );
        assert_eq!(
            facts(Policy::Anyone, blocked, false).refusal(true),
            Some(Refusal::Blocked)
        );
        assert_eq!(
            facts(Policy::TrustedOnly, None, false).refusal(true),
            Some(Refusal::NotTrusted)
        );
        assert_eq!(
            facts(Policy::Anyone, None, false).refusal(true),
            Some(Refusal::TooLarge)
        );
        assert_eq!(
            facts(Policy::Anyone, None, false).refusal(false),
            Some(Refusal::ApplicationNotRegistered)
        );
        assert_eq!(
            facts(Policy::TrustedOnly, allowed, true).refusal(false),
            None
        );
        assert!(facts(Policy::Anyone, allowed, true).is_contact());
        assert!(!facts(Policy::Anyone, blocked, true).is_contact());
    }
}
