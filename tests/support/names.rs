//! The environment variables that point the `face-enroll` binary at a set of
//! AMQP names, for tests and benchmarks that run it as a process.

use face_enroll::config::Settings;

/// `FACE_ENROLL_AMQP__*` for every name of `settings`.
pub fn amqp_name_vars(settings: &Settings) -> [(&'static str, String); 6] {
    let a = &settings.amqp;
    [
        ("FACE_ENROLL_AMQP__JOBS_QUEUE", a.jobs_queue.clone()),
        ("FACE_ENROLL_AMQP__RETRY_QUEUE", a.retry_queue.clone()),
        (
            "FACE_ENROLL_AMQP__DEAD_LETTER_EXCHANGE",
            a.dead_letter_exchange.clone(),
        ),
        (
            "FACE_ENROLL_AMQP__DEAD_LETTER_QUEUE",
            a.dead_letter_queue.clone(),
        ),
        (
            "FACE_ENROLL_AMQP__RESULTS_EXCHANGE",
            a.results_exchange.clone(),
        ),
        (
            "FACE_ENROLL_AMQP__RESULTS_UNROUTED",
            a.results_unrouted.clone(),
        ),
    ]
}
