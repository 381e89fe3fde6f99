//! Adapters of the engine's ports to real backends.
