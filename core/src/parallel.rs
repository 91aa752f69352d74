//! An ordered parallel map for the public-key work of encrypting or decrypting many values.

use std::iter::Flatten;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::vec::IntoIter;

/// Results in input order, one chunk after another, handed out without first being gathered
/// into one more vector (with 10,000 values that copy would be a noticeable part of the peak
/// memory).
pub type InOrder<R> = Flatten<IntoIter<Vec<R>>>;

/// Items a worker takes at a time: small enough that a worker the machine slows down (other
/// processes, a busy core) holds back little, large enough that taking them costs nothing
/// next to the public-key work of one item.
const BLOCK: usize = 8;

/// Applies `f` to every item. With at least `parallel_from` items the work is spread over the
/// machine's cores: each worker takes the next block of items until none is left, so a worker
/// that runs slower takes fewer blocks instead of holding the others up. The blocks are put
/// back in input order, so the results come out in input order and none depends on how the
/// work was split. Fewer items never ask for the core count, which costs file reads (cgroup
/// limits) on Linux.
pub fn map_in_order<T: Sync, R: Send>(
    items: &[T],
    parallel_from: usize,
    f: impl Fn(&T) -> R + Sync,
) -> InOrder<R> {
    // Fewer than two items never need a thread (and an empty list has no chunks).
    let threads = if items.len() < parallel_from.max(2) {
        1
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    };
    if threads < 2 {
        return vec![items.iter().map(f).collect::<Vec<_>>()]
            .into_iter()
            .flatten();
    }
    let blocks: Vec<&[T]> = items.chunks(BLOCK).collect();
    let next = AtomicUsize::new(0);
    let (f, blocks, next) = (&f, &blocks, &next);
    let mut done: Vec<(usize, Vec<R>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(blocks.len()))
            .map(|_| {
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let at = next.fetch_add(1, Ordering::Relaxed);
                        let Some(block) = blocks.get(at) else {
                            return mine;
                        };
                        mine.push((at, block.iter().map(f).collect::<Vec<_>>()));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    done.sort_unstable_by_key(|(at, _)| *at);
    done.into_iter()
        .map(|(_, results)| results)
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_keep_the_input_order() {
        let items: Vec<u32> = (0..1000).collect();
        for parallel_from in [0, 1, 999, 1000, 1001, usize::MAX] {
            let out: Vec<u32> = map_in_order(&items, parallel_from, |x| x * 3).collect();
            assert_eq!(out, items.iter().map(|x| x * 3).collect::<Vec<_>>());
        }
        assert_eq!(map_in_order(&[] as &[u32], 0, |x| *x).count(), 0);
    }
}
