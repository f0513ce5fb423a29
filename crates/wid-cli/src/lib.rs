//! Pieces of the `wid` CLI that are plain functions: az-compatible output formatting and the
//! lenient JSON that az accepts on its command line.

pub mod output;
pub mod relaxed_json;
