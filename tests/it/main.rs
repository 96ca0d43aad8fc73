//! Integration tests: the client against the simulator over real HTTP, and
//! the binary's commands.

mod cli;
mod client;
mod helpers;
mod simulator;
