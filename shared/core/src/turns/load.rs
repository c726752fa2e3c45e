//! Loading a turn's inputs from the stores: the session, its harness chain and agent, the
//! conversation (a cached fold extended with the events stored since: [`HistoryCache`]), the
//! turn's own events, the triggering message's controls, and the resolved model with its
//! decrypted key (the org default model among the candidates: [`OrgDefaults`]).

use std::sync::Arc;

use crate::capabilities::{CapabilityRegistry, DeploymentGrade};
use crate::context::{TurnInputs, select_model_id};
use crate::domain::{AgentCapabilityConfig, Controls, Conversation, Harness, ProviderStatus, Session};
use crate::driver_registry::ResolvedModel;
use crate::events::{Event, EventPayload};
use crate::harness_templates::BuiltInHarnessRole;
use crate::history::HistoryFold;
use crate::ids::{HarnessId, ModelId, OrgId, SessionId, TurnId};
use crate::ports::{EventFilter, PortError, PortResult, SecretCipher, Stores};
use crate::seed::harness_with_role;

use super::{HistoryCache, OrgDefaults};

/// How deep a harness chain may go before it is treated as a cycle.
const MAX_HARNESS_DEPTH: usize = 16;

/// What a turn's load leaves out: `llm.generation` carries everything sent to the model — the
/// whole conversation again — and neither the history nor the engine reads it back (a re-run that
/// emits it again is answered by its idempotency key), so it is not read at all.
fn skip() -> Vec<String> {
    vec!["llm.generation".to_owned()]
}

/// Loads turn inputs. Shared by execution and inspection.
#[derive(Clone)]
pub struct TurnLoader {
    pub(crate) stores: Stores,
    pub(crate) capabilities: Arc<CapabilityRegistry>,
    pub(crate) grade: DeploymentGrade,
    pub(crate) default_model: Option<ResolvedModel>,
    pub(crate) cipher: Option<Arc<dyn SecretCipher>>,
    /// Deployment-wide keys by driver (`DEFAULT_*_API_KEY`), used only for providers with no
    /// stored key; a stored key always wins.
    pub(crate) fallback_keys: std::collections::HashMap<crate::DriverId, String>,
    /// Conversation folds by session.
    pub(crate) history: Arc<HistoryCache>,
    /// Org default models, briefly cached.
    pub(crate) org_defaults: Arc<OrgDefaults>,
    /// Built-in harnesses once read.
    pub(crate) built_ins: Arc<BuiltIns>,
}

/// Built-in harnesses by org and id, and each org's default one (the built-in with the Default
/// role), kept for the life of the process: built-ins are reconciled by name from the platform
/// definition when a process starts (their ids stay), are read-only through the API and cannot
/// be archived. So a session on a built-in harness reads no harness per iteration, and creating
/// a session or an agent without a harness reads none. Bounded.
#[derive(Debug, Default)]
pub(crate) struct BuiltIns {
    harnesses: std::sync::Mutex<std::collections::HashMap<(OrgId, HarnessId), Harness>>,
    defaults: std::sync::Mutex<std::collections::HashMap<OrgId, HarnessId>>,
}

impl BuiltIns {
    const CAPACITY: usize = 4096;

    fn get(&self, org: OrgId, id: HarnessId) -> Option<Harness> {
        self.harnesses.lock().unwrap_or_else(|e| e.into_inner()).get(&(org, id)).cloned()
    }

    fn put(&self, harness: Harness) {
        let mut harnesses = self.harnesses.lock().unwrap_or_else(|e| e.into_inner());
        if harnesses.len() < Self::CAPACITY {
            harnesses.insert((harness.org_id, harness.id), harness);
        }
    }

    fn default_of(&self, org: OrgId) -> Option<HarnessId> {
        self.defaults.lock().unwrap_or_else(|e| e.into_inner()).get(&org).copied()
    }

    fn put_default(&self, org: OrgId, id: HarnessId) {
        let mut defaults = self.defaults.lock().unwrap_or_else(|e| e.into_inner());
        if defaults.len() < Self::CAPACITY {
            defaults.insert(org, id);
        }
    }
}

impl TurnLoader {
    /// Reads a session or fails with `NotFound`.
    pub async fn session(&self, org: OrgId, id: SessionId) -> PortResult<Session> {
        self.stores.sessions.get_session(org, id).await?.ok_or_else(|| PortError::not_found("session", id))
    }

    /// Loads everything a turn needs: the session with the events stored since its cached fold
    /// (one read where the store can), then the rest. `turn` selects whose controls apply (the
    /// latest user message's when `None`). `NotFound` when the session does not exist.
    pub async fn inputs(&self, org: OrgId, id: SessionId, turn: Option<TurnId>) -> PortResult<TurnInputs> {
        let mut fold = self.history.take(id);
        let since =
            EventFilter { after_sequence: Some(fold.last_sequence()), exclude: skip(), ..EventFilter::default() };
        let (session, stored) = self
            .stores
            .sessions
            .get_session_with_events(org, id, &since)
            .await?
            .ok_or_else(|| PortError::not_found("session", id))?;
        let stored = match stored {
            Some(events) => events,
            None => self.stores.events.list_events(id, &since).await?,
        };
        fold.extend(&stored);
        self.assemble(org, session, fold, turn).await
    }

    /// The inputs of `turn`'s first iteration from its start ([`super::PrimedStart`]): `session`
    /// as the start left it and the kept fold, when that fold is still through `through` (the
    /// start's last event). `None` otherwise, with the fold left kept: the caller reads.
    pub async fn primed_inputs(
        &self,
        org: OrgId,
        session: Session,
        through: i64,
        turn: TurnId,
    ) -> PortResult<Option<TurnInputs>> {
        let fold = self.history.take(session.id);
        if fold.last_sequence() != through {
            if fold.last_sequence() > 0 {
                self.history.put(session.id, fold);
            }
            return Ok(None);
        }
        self.assemble(org, session, fold, Some(turn)).await.map(Some)
    }

    /// Extends the session's kept fold with events one write just stored, when they are the next
    /// ones (see [`HistoryCache::advance`]); returns the sequence the fold is through then.
    pub fn advance_history(&self, session: SessionId, stored: &[Event]) -> Option<i64> {
        self.history.advance(session, stored, &skip())
    }

    /// Keeps `started` (a new session's only event, sequence 1) as the session's fold.
    pub fn opened(&self, started: &Event) {
        if started.sequence == Some(1) {
            self.history.put(started.session_id, HistoryFold::of(std::slice::from_ref(started)));
        }
    }

    /// The inputs from the session and its fold (extended through what the store holds).
    async fn assemble(
        &self,
        org: OrgId,
        session: Session,
        fold: HistoryFold,
        turn: Option<TurnId>,
    ) -> PortResult<TurnInputs> {
        let id = session.id;
        let mut harness_chain = self.harness_chain(org, &session).await?;
        let mut agent = match session.agent_id {
            Some(id) => self.stores.agents.get_agent(org, id).await?,
            None => None,
        };
        let (history, turn_events, latest_controls) = self.conversation(id, turn, fold).await?;
        let controls = match turn {
            Some(_) => controls_of(&turn_events),
            None => latest_controls,
        };
        let model = self.resolve_model(org, controls.as_ref(), &session, agent.as_ref(), &harness_chain).await?;
        // A capability removed from the platform after it was selected is skipped, not fatal.
        for harness in &mut harness_chain {
            self.retain_known(&mut harness.capabilities);
        }
        if let Some(agent) = agent.as_mut() {
            self.retain_known(&mut agent.capabilities);
        }
        let mut session = session;
        self.retain_known(&mut session.capabilities);
        Ok(TurnInputs { harness_chain, agent, session, history, turn_events, controls, model })
    }

    /// The conversation of `fold` (the cached fold, extended with what was stored since), `turn`'s
    /// events, and the controls of the latest input message; the fold is kept for the next time.
    async fn conversation(
        &self,
        session: SessionId,
        turn: Option<TurnId>,
        fold: HistoryFold,
    ) -> PortResult<(Conversation, Vec<Event>, Option<Controls>)> {
        let turn_events = match turn {
            None => Vec::new(),
            Some(turn) => match fold.turn_events(turn) {
                Some(events) => events.to_vec(),
                None => {
                    let filter = EventFilter { turn_id: Some(turn), exclude: skip(), ..EventFilter::default() };
                    self.stores.events.list_events(session, &filter).await?
                }
            },
        };
        let result = (fold.messages(), turn_events, fold.latest_controls().cloned());
        self.history.put(session, fold);
        Ok(result)
    }

    /// The session's conversation folded through `through`: the kept fold's when it is there
    /// (the context of the iteration that asks was just folded to it), else folded from the store.
    pub async fn conversation_through(&self, session: SessionId, through: i64) -> PortResult<Conversation> {
        if let Some(conversation) = self.history.messages_through(session, through) {
            return Ok(conversation);
        }
        let filter =
            EventFilter { before_sequence: Some(through.saturating_add(1)), exclude: skip(), ..EventFilter::default() };
        let events = self.stores.events.list_events(session, &filter).await?;
        Ok(crate::history::HistoryFold::of(&events).messages().folded_through(through))
    }

    /// Forgets a deleted session's cached conversation.
    pub fn forget(&self, session: SessionId) {
        self.history.forget(session);
    }

    fn retain_known(&self, refs: &mut Vec<AgentCapabilityConfig>) {
        refs.retain(|r| {
            let known = self.capabilities.is_visible(&r.capability_ref, self.grade);
            if !known {
                tracing::warn!(capability = %r.capability_ref, "skipping a capability this platform does not provide");
            }
            known
        });
    }

    async fn harness_chain(&self, org: OrgId, session: &Session) -> PortResult<Vec<Harness>> {
        let mut chain = Vec::new();
        let mut next = Some(session.harness_id);
        while let Some(id) = next {
            if chain.len() >= MAX_HARNESS_DEPTH || chain.iter().any(|h: &Harness| h.id == id) {
                tracing::warn!(harness = %id, "harness chain too deep or cyclic; truncated");
                break;
            }
            let Some(harness) = self.harness(org, id).await? else { break };
            next = harness.parent_harness_id;
            chain.push(harness);
        }
        chain.reverse();
        Ok(chain)
    }

    /// A new session's initial files: its harness chain's, its agent's and its own, merged by path.
    pub async fn initial_files(
        &self,
        org: OrgId,
        session: &Session,
        agent: Option<&crate::domain::Agent>,
    ) -> PortResult<Vec<crate::domain::InitialFile>> {
        let chain = self.harness_chain(org, session).await?;
        Ok(crate::context::merge_initial_files(&chain, agent, session))
    }

    /// The org's default harness (the active built-in with the Default role), read once.
    pub async fn default_harness(&self, org: OrgId) -> PortResult<Option<HarnessId>> {
        if let Some(id) = self.built_ins.default_of(org) {
            return Ok(Some(id));
        }
        let found = harness_with_role(self.stores.harnesses.as_ref(), org, BuiltInHarnessRole::Default).await?;
        if let Some(harness) = &found {
            self.built_ins.put_default(org, harness.id);
        }
        Ok(found.map(|h| h.id))
    }

    /// A harness: a built-in one from [`BuiltIns`] once read (built-ins are reconciled when a
    /// process starts and read-only through the API), any other from the store.
    async fn harness(&self, org: OrgId, id: HarnessId) -> PortResult<Option<Harness>> {
        if let Some(harness) = self.built_ins.get(org, id) {
            return Ok(Some(harness));
        }
        let harness = self.stores.harnesses.get_harness(org, id).await?;
        if let Some(built_in) = harness.as_ref().filter(|h| h.is_built_in) {
            self.built_ins.put(built_in.clone());
        }
        Ok(harness)
    }

    /// The turn's model: the first of controls, session, agent and harness chain that names one,
    /// else the org default model, else the deployment's. A named model that does not resolve
    /// (deleted, disabled, its provider disabled or its key unopenable) leaves the turn without
    /// a model, which fails it with the user-visible error.
    async fn resolve_model(
        &self,
        org: OrgId,
        controls: Option<&Controls>,
        session: &Session,
        agent: Option<&crate::domain::Agent>,
        harness_chain: &[Harness],
    ) -> PortResult<Option<ResolvedModel>> {
        let selected = match select_model_id(controls, session, agent, harness_chain) {
            Some(id) => Some(id),
            None => self.org_defaults.get(self.stores.providers.as_ref(), org).await?,
        };
        let Some(id) = selected else { return Ok(self.default_model.clone()) };
        Ok(match self.resolve_model_id(org, id).await {
            Ok(model) => Some(model),
            Err(error) => {
                tracing::warn!(model = %id, "model does not resolve: {error}");
                None
            }
        })
    }

    /// Resolves a model row to its driver and decrypted key.
    pub async fn resolve_model_id(&self, org: OrgId, id: ModelId) -> Result<ResolvedModel, String> {
        let providers = &self.stores.providers;
        let model = providers.get_model(org, id).await.map_err(|e| e.to_string())?.ok_or("model not found")?;
        if !model.enabled {
            return Err("model is disabled".into());
        }
        let provider = providers
            .get_provider(org, model.provider_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("provider not found")?;
        if provider.status != ProviderStatus::Active {
            return Err("provider is disabled".into());
        }
        let api_key = match (&provider.api_key_encrypted, &self.cipher) {
            (None, _) => self.fallback_keys.get(&provider.provider_type).cloned(),
            (Some(sealed), Some(cipher)) => Some(cipher.open(sealed).map_err(|e| e.to_string())?),
            (Some(_), None) => return Err("no secret cipher is configured to open the provider key".into()),
        };
        Ok(ResolvedModel {
            model: model.model_id,
            provider_type: provider.provider_type,
            api_key,
            base_url: provider.base_url,
            provider_metadata: provider.metadata,
        })
    }
}

/// The controls of the turn's latest input message.
fn controls_of(turn_events: &[Event]) -> Option<Controls> {
    turn_events
        .iter()
        .rev()
        .find_map(|e| match &e.payload {
            EventPayload::InputMessage(data) => Some(data.message.controls.clone()),
            _ => None,
        })
        .flatten()
}
