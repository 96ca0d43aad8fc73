//! The AMQP names of the settings as the environment variables that set them,
//! for a parent process (tests, benchmarks) that runs `face-enroll` on its own
//! set of queues and exchanges.

use super::AmqpSettings;

impl AmqpSettings {
    /// `FACE_ENROLL_AMQP__*` for every queue and exchange name.
    pub fn name_vars(&self) -> [(&'static str, String); 6] {
        [
            ("FACE_ENROLL_AMQP__JOBS_QUEUE", self.jobs_queue.clone()),
            ("FACE_ENROLL_AMQP__RETRY_QUEUE", self.retry_queue.clone()),
            (
                "FACE_ENROLL_AMQP__DEAD_LETTER_EXCHANGE",
                self.dead_letter_exchange.clone(),
            ),
            (
                "FACE_ENROLL_AMQP__DEAD_LETTER_QUEUE",
                self.dead_letter_queue.clone(),
            ),
            (
                "FACE_ENROLL_AMQP__RESULTS_EXCHANGE",
                self.results_exchange.clone(),
            ),
            (
                "FACE_ENROLL_AMQP__RESULTS_UNROUTED",
                self.results_unrouted.clone(),
            ),
        ]
    }
}
