use std::sync::Arc;

use super::*;

fn circuit() -> Arc<Circuit> {
    Arc::new(Circuit::default())
}

#[tokio::test(start_paused = true)]
async fn forbidden_opens_and_a_probe_that_answers_closes() {
    let circuit = circuit();
    circuit.admit().await.record(CallResult::Forbidden);
    assert!(circuit.is_open());
    let start = Instant::now();
    let probe = circuit.admit().await;
    assert_eq!(start.elapsed(), FIRST_PAUSE);
    probe.record(CallResult::Answered);
    assert!(!circuit.is_open());
}

#[tokio::test(start_paused = true)]
async fn only_the_probe_moves_an_open_circuit() {
    let circuit = circuit();
    let (first, second, third, fourth) = (
        circuit.admit().await,
        circuit.admit().await,
        circuit.admit().await,
        circuit.admit().await,
    );
    first.record(CallResult::Forbidden);
    second.record(CallResult::NoCall);
    assert!(circuit.is_open());
    // A late answer of a job admitted before the refusal closes nothing.
    third.record(CallResult::Answered);
    assert!(circuit.is_open());
    let start = Instant::now();
    let probe = circuit.admit().await;
    assert_eq!(start.elapsed().as_secs(), 5, "the first pause");
    // A late refusal neither re-opens it nor lengthens the next pause.
    fourth.record(CallResult::Forbidden);
    assert!(probe.may_call(), "still the probe's turn");
    probe.record(CallResult::Answered);
    assert!(!circuit.is_open(), "the probe's answer closes it");
}

#[tokio::test(start_paused = true)]
async fn the_pause_grows_while_probes_are_refused() {
    let circuit = circuit();
    circuit.admit().await.record(CallResult::Forbidden);
    let mut pauses = Vec::new();
    for _ in 0..8 {
        let start = Instant::now();
        let probe = circuit.admit().await;
        pauses.push(start.elapsed().as_secs());
        probe.record(CallResult::Forbidden);
    }
    assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 300, 300]);
}

#[tokio::test(start_paused = true)]
async fn only_one_probe_at_a_time_and_a_probe_without_a_call_lets_the_next_one_probe() {
    let circuit = circuit();
    let early = circuit.admit().await;
    circuit.admit().await.record(CallResult::Forbidden);
    tokio::time::advance(FIRST_PAUSE).await;
    let probe = circuit.admit().await;
    let second = tokio::spawn({
        let circuit = circuit.clone();
        async move { circuit.admit().await }
    });
    tokio::time::advance(Duration::from_secs(60)).await;
    assert!(
        !second.is_finished(),
        "a second job got through during the probe"
    );
    // A job admitted before the circuit opened ends without a call: the probe is still out.
    early.record(CallResult::NoCall);
    tokio::task::yield_now().await;
    assert!(
        !second.is_finished(),
        "another job's NoCall ended the probe"
    );
    probe.record(CallResult::NoCall);
    second.await.unwrap().record(CallResult::Answered);
    assert!(!circuit.is_open());
}

#[tokio::test(start_paused = true)]
async fn a_probe_dropped_without_reporting_lets_the_next_job_probe() {
    let circuit = circuit();
    circuit.admit().await.record(CallResult::Forbidden);
    let probe = circuit.admit().await;
    let next = tokio::spawn({
        let circuit = circuit.clone();
        async move { circuit.admit().await }
    });
    tokio::task::yield_now().await;
    assert!(!next.is_finished());
    // The probe's task was aborted, or panicked: its ticket goes with it.
    drop(probe);
    let next = tokio::time::timeout(Duration::from_secs(1), next).await;
    assert!(
        next.is_ok(),
        "consumption stuck after a probe that never reported"
    );
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_never_ends_is_given_up_after_the_limit() {
    let circuit = circuit();
    circuit.admit().await.record(CallResult::Forbidden);
    let _stuck = circuit.admit().await;
    let started = Instant::now();
    let next = circuit.admit().await;
    assert_eq!(started.elapsed(), PROBE_LIMIT);
    next.record(CallResult::Answered);
    assert!(!circuit.is_open());
}

#[tokio::test(start_paused = true)]
async fn once_open_only_the_probe_may_call() {
    let circuit = circuit();
    let waiting = circuit.admit().await;
    assert!(waiting.may_call());
    circuit.admit().await.record(CallResult::Forbidden);
    assert!(
        !waiting.may_call(),
        "a job admitted before the refusal must not call"
    );
    let probe = circuit.admit().await;
    assert!(probe.may_call());
    assert!(!waiting.may_call());
    probe.record(CallResult::Answered);
    assert!(waiting.may_call());
}
