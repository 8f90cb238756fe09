//! Integration tests of obesity-serve: the router without sockets (`oneshot`) for every
//! endpoint and every bad request, hot reload, and one real-socket test with graceful
//! shutdown.

mod bad_requests;
mod formats;
mod ops;
mod predict;
mod production;
mod reload;
mod socket;
mod support;
