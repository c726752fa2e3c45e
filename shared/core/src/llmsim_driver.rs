//! The LLM simulator driver (`llmsim`). Being written; see the module owner.
