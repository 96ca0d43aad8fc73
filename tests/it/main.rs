//! Integration tests: the client against the simulator over real HTTP, and
//! the binary's commands.

mod acks;
mod alarm;
mod bad_input;
mod bodies;
mod broker;
mod cli;
mod client;
mod cluster;
mod commands;
mod credentials;
mod helpers;
mod hostile;
mod images;
mod library;
mod nodes;
mod observability;
mod oss;
mod phone_photos;
mod process;
mod rabbit;
mod resilience;
mod retries;
mod road;
mod settings_docs;
mod simulator;
mod stack;
mod stores;
mod topology;
mod worker;
