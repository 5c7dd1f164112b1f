//! Small one-shot timely dataflows for agreeing before the run: gather
//! everyone's facts everywhere, or send each fact to one worker.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Exchange, Inspect, Probe, ToStream};
use timely::worker::Worker;
use timely::ExchangeData;

use crate::runtime::shared::RunShared;

/// Every worker contributes `local`; every worker gets all contributions,
/// sorted. Returns `None` if the run is stopping meanwhile.
pub fn all_gather<D: ExchangeData + Clone + Ord>(
    worker: &mut Worker,
    shared: &RunShared,
    local: Vec<D>,
) -> Option<Vec<D>> {
    let gathered = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&gathered);
    let probe = worker.dataflow::<u64, _, _>(move |scope| {
        local
            .to_stream(scope)
            .container::<Vec<D>>()
            .broadcast()
            .inspect(move |x: &D| sink.borrow_mut().push(x.clone()))
            .probe()
            .0
    });
    run_until_done(worker, shared, &probe)?;
    let mut out = gathered.take();
    out.sort();
    Some(out)
}

/// Sends each `(worker, fact)` to that worker; returns the facts this
/// worker received, sorted. `None` if the run is stopping meanwhile.
pub fn scatter<D: ExchangeData + Clone + Ord>(
    worker: &mut Worker,
    shared: &RunShared,
    local: Vec<(usize, D)>,
) -> Option<Vec<D>> {
    let received = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&received);
    let probe = worker.dataflow::<u64, _, _>(move |scope| {
        local
            .to_stream(scope)
            .container::<Vec<(usize, D)>>()
            .exchange(|(dest, _): &(usize, D)| *dest as u64)
            .inspect(move |(_, x): &(usize, D)| sink.borrow_mut().push(x.clone()))
            .probe()
            .0
    });
    run_until_done(worker, shared, &probe)?;
    let mut out = received.take();
    out.sort();
    Some(out)
}

fn run_until_done(
    worker: &mut Worker,
    shared: &RunShared,
    probe: &timely::dataflow::ProbeHandle<u64>,
) -> Option<()> {
    while !probe.done() {
        if shared.stopping() {
            for id in worker.installed_dataflows() {
                worker.drop_dataflow(id);
            }
            return None;
        }
        worker.step_or_park(Some(Duration::from_millis(50)));
    }
    Some(())
}
