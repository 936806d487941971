//! What the gateway tells about each guild that decides who manages it: the owner and the permissions of
//! every role, kept current from `GUILD_CREATE`, `GUILD_UPDATE`, `GUILD_DELETE` and the role events.
//!
//! A message carries its author's roles but not their permissions (an interaction does, computed by
//! Discord; a message does not). Ticket messages need to know whether their author is staff, which includes
//! whoever manages the server without holding the staff role: the owner, or a member with a role that has
//! Administrator or Manage Server. Both permissions are guild-wide (channel overwrites cannot grant or
//! deny them), so the roles alone decide. Written by hand rather than with `twilight-cache-inmemory`: two
//! numbers per role are all that is needed, where the cache would keep whole guilds.

use std::collections::HashMap;
use std::sync::Mutex;
use twilight_model::gateway::event::Event;
use twilight_model::gateway::payload::incoming::GuildCreate;
use twilight_model::guild::{Permissions, Role};

/// The gateway events that keep [`Guilds`] current.
pub const EVENTS: twilight_gateway::EventTypeFlags = twilight_gateway::EventTypeFlags::GUILD_CREATE
    .union(twilight_gateway::EventTypeFlags::GUILD_UPDATE)
    .union(twilight_gateway::EventTypeFlags::GUILD_DELETE)
    .union(twilight_gateway::EventTypeFlags::ROLE_CREATE)
    .union(twilight_gateway::EventTypeFlags::ROLE_UPDATE)
    .union(twilight_gateway::EventTypeFlags::ROLE_DELETE);

#[derive(Debug, Default)]
struct Guild {
    owner_id: u64,
    /// Permissions of each role by id; the `@everyone` role's id is the guild's.
    roles: HashMap<u64, Permissions>,
}

/// Owners and role permissions of the guilds the bot is in.
#[derive(Debug, Default)]
pub struct Guilds {
    guilds: Mutex<HashMap<u64, Guild>>,
}

impl Guilds {
    /// Follows one gateway event (others are ignored).
    pub fn apply(&self, event: &Event) {
        let mut guilds = self.guilds.lock().unwrap_or_else(|p| p.into_inner());
        let perms = |roles: &[Role]| -> HashMap<u64, Permissions> {
            roles.iter().map(|r| (r.id.get(), r.permissions)).collect()
        };
        match event {
            Event::GuildCreate(create) => match &**create {
                GuildCreate::Available(g) => {
                    guilds.insert(
                        g.id.get(),
                        Guild {
                            owner_id: g.owner_id.get(),
                            roles: perms(&g.roles),
                        },
                    );
                }
                // An outage: what was known stays until the guild is back.
                GuildCreate::Unavailable(_) => {}
            },
            Event::GuildUpdate(update) => {
                let guild = guilds.entry(update.id.get()).or_default();
                guild.owner_id = update.owner_id.get();
                guild.roles = perms(&update.roles);
            }
            // Left, removed, or unavailable: not knowing is safer than knowing wrong.
            Event::GuildDelete(delete) => {
                guilds.remove(&delete.id.get());
            }
            Event::RoleCreate(r) => {
                if let Some(guild) = guilds.get_mut(&r.guild_id.get()) {
                    guild.roles.insert(r.role.id.get(), r.role.permissions);
                }
            }
            Event::RoleUpdate(r) => {
                if let Some(guild) = guilds.get_mut(&r.guild_id.get()) {
                    guild.roles.insert(r.role.id.get(), r.role.permissions);
                }
            }
            Event::RoleDelete(r) => {
                if let Some(guild) = guilds.get_mut(&r.guild_id.get()) {
                    guild.roles.remove(&r.role_id.get());
                }
            }
            _ => {}
        }
    }

    /// Whether `user_id`, holding `roles` in `guild_id`, manages the guild: its owner, or Administrator or
    /// Manage Server through one of their roles or `@everyone`. `false` for a guild not (yet) known.
    pub fn manages_guild(&self, guild_id: u64, user_id: u64, roles: &[u64]) -> bool {
        let guilds = self.guilds.lock().unwrap_or_else(|p| p.into_inner());
        let Some(guild) = guilds.get(&guild_id) else {
            return false;
        };
        if guild.owner_id == user_id {
            return true;
        }
        let wanted = Permissions::ADMINISTRATOR | Permissions::MANAGE_GUILD;
        std::iter::once(&guild_id)
            .chain(roles)
            .filter_map(|id| guild.roles.get(id))
            .any(|p| p.intersects(wanted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GUILD: u64 = 100;
    const OWNER: u64 = 1;

    fn role(id: u64, permissions: Permissions) -> serde_json::Value {
        json!({"id": id.to_string(), "name": format!("r{id}"), "color": 0, "hoist": false,
               "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
               "managed": false, "mentionable": false, "position": 1, "flags": 0,
               "permissions": permissions.bits().to_string()})
    }

    /// A dispatch as the gateway parses it.
    fn event(t: &str, d: serde_json::Value) -> Event {
        let json = json!({"op": 0, "s": 1, "t": t, "d": d}).to_string();
        twilight_gateway::parse(json, twilight_gateway::EventTypeFlags::all())
            .expect("a valid event")
            .map(Event::from)
            .expect("a wanted event")
    }

    fn guild(roles: Vec<serde_json::Value>) -> serde_json::Value {
        json!({"id": GUILD.to_string(), "name": "g", "owner_id": OWNER.to_string(),
               "roles": roles, "afk_timeout": 300, "default_message_notifications": 0,
               "explicit_content_filter": 0, "features": [], "mfa_level": 0, "nsfw_level": 0,
               "preferred_locale": "en-US", "premium_progress_bar_enabled": false,
               "premium_tier": 0, "system_channel_flags": 0, "verification_level": 0,
               "emojis": [], "stickers": [], "channels": [], "threads": [], "members": [],
               "presences": [], "voice_states": [], "stage_instances": [],
               "guild_scheduled_events": [], "unavailable": false, "large": false,
               "member_count": 1, "joined_at": "2026-01-01T00:00:00.000000+00:00"})
    }

    #[test]
    fn the_owner_and_roles_with_administrator_or_manage_server_manage_the_guild() {
        let guilds = Guilds::default();
        assert!(!guilds.manages_guild(GUILD, OWNER, &[]), "unknown guild");
        guilds.apply(&event(
            "GUILD_CREATE",
            guild(vec![
                role(GUILD, Permissions::SEND_MESSAGES),
                role(10, Permissions::ADMINISTRATOR),
                role(11, Permissions::MANAGE_GUILD | Permissions::SEND_MESSAGES),
                role(12, Permissions::MANAGE_MESSAGES),
            ]),
        ));
        assert!(guilds.manages_guild(GUILD, OWNER, &[]));
        assert!(guilds.manages_guild(GUILD, 2, &[10]));
        assert!(guilds.manages_guild(GUILD, 2, &[12, 11]));
        assert!(!guilds.manages_guild(GUILD, 2, &[12]));
        assert!(!guilds.manages_guild(GUILD, 2, &[]));
        assert!(!guilds.manages_guild(GUILD, 2, &[99]), "unknown role");
        assert!(!guilds.manages_guild(GUILD + 1, OWNER, &[]), "other guild");
    }

    #[test]
    fn role_and_guild_events_keep_it_current() {
        let guilds = Guilds::default();
        guilds.apply(&event(
            "GUILD_CREATE",
            guild(vec![role(GUILD, Permissions::empty())]),
        ));
        // A new role with Manage Server; then it loses it; then it is gone.
        let create =
            json!({"guild_id": GUILD.to_string(), "role": role(20, Permissions::MANAGE_GUILD)});
        guilds.apply(&event("GUILD_ROLE_CREATE", create));
        assert!(guilds.manages_guild(GUILD, 2, &[20]));
        let update =
            json!({"guild_id": GUILD.to_string(), "role": role(20, Permissions::KICK_MEMBERS)});
        guilds.apply(&event("GUILD_ROLE_UPDATE", update));
        assert!(!guilds.manages_guild(GUILD, 2, &[20]));
        let update =
            json!({"guild_id": GUILD.to_string(), "role": role(20, Permissions::ADMINISTRATOR)});
        guilds.apply(&event("GUILD_ROLE_UPDATE", update));
        assert!(guilds.manages_guild(GUILD, 2, &[20]));
        let delete = json!({"guild_id": GUILD.to_string(), "role_id": "20"});
        guilds.apply(&event("GUILD_ROLE_DELETE", delete));
        assert!(!guilds.manages_guild(GUILD, 2, &[20]));
        // `@everyone` given Administrator: everyone manages it.
        let everyone =
            json!({"guild_id": GUILD.to_string(), "role": role(GUILD, Permissions::ADMINISTRATOR)});
        guilds.apply(&event("GUILD_ROLE_UPDATE", everyone));
        assert!(guilds.manages_guild(GUILD, 3, &[]));
        // Ownership passes to user 2; the roles come with the update.
        let mut updated = guild(vec![role(GUILD, Permissions::empty())]);
        updated["owner_id"] = json!("2");
        guilds.apply(&event("GUILD_UPDATE", updated));
        assert!(guilds.manages_guild(GUILD, 2, &[]));
        assert!(!guilds.manages_guild(GUILD, OWNER, &[]));
        assert!(!guilds.manages_guild(GUILD, 3, &[]));
        // The bot leaves the guild.
        guilds.apply(&event(
            "GUILD_DELETE",
            json!({"id": GUILD.to_string(), "unavailable": false}),
        ));
        assert!(!guilds.manages_guild(GUILD, 2, &[]));
    }
}
