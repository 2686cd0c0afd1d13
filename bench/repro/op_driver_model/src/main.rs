//! A model of deno_core's async op driver (libs/core/runtime/op_driver/
//! futures_unordered_driver.rs in Deno 2.9.x) on a current-thread tokio runtime, serving
//! "HTTP/1.1 hello" to wrk: a "JS" task E takes completed ops (at most 341 per turn, as
//! dispatch_event_loop_tick does), spends `work_us` per request, and submits the next ops, each
//! polled once eagerly with a noop waker (as submit_op_fallible does) and otherwise pushed into
//! one FuturesUnordered that a single task P drives (poll_task). Nothing else of Deno is in it,
//! so what it shows comes from tokio's coop budget meeting that structure.
//!
//!   target/release/op_driver_model <port> <mode> [work_us]   (env MAX_IO_EVENTS, default 1024)
//!
//!   mode deno:          as Deno 2.9.x
//!   mode unconstrained: P runs under tokio::task::unconstrained (no coop budget for op futures)
//!   mode task_per_conn: one tokio task per connection (what hyper under Deno.serve does)
//!
//! Every 2 s it prints the time between two requests of one connection ("gap"): a fair server
//! serves each busy connection once per round, so p99/mean stays near 1-2.
//! Result (wrk -t1 -d7s, work_us 10, shared 2-core box, 2 rounds): -c100 deno p99/mean
//! 2.4-3.2; -c500 deno 7.8-10.6 (wrk p99 350-404 ms; p50 far below the mean: a hot set served
//! over and over), unconstrained 2.1-4.7 (174-339 ms), deno with MAX_IO_EVENTS=64 2.0-2.7
//! (146-199 ms), task_per_conn wrk p99 92-234 ms. See docs/runtime.md, section 1.
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";

enum Done {
  Accept(TcpStream),
  Read(usize, OwnedReadHalf, Vec<u8>, usize),
  Write(usize, OwnedWriteHalf),
}
type Op = Pin<Box<dyn Future<Output = Done>>>;

#[derive(Default)]
struct Driver {
  fu: RefCell<FuturesUnordered<Op>>,
  p_waker: RefCell<Option<Waker>>,
  done: RefCell<VecDeque<Done>>,
  e_waker: RefCell<Option<Waker>>,
}

impl Driver {
  /// submit_op: poll once with a noop waker; Ready -> returned synchronously, else spawned.
  fn submit(&self, mut op: Op) -> Option<Done> {
    if let Poll::Ready(d) = op.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
      return Some(d);
    }
    self.fu.borrow_mut().push(op);
    if let Some(w) = self.p_waker.borrow().as_ref() {
      w.wake_by_ref();
    }
    None
  }
}

fn read_op(id: usize, mut rd: OwnedReadHalf, mut buf: Vec<u8>) -> Op {
  Box::pin(async move {
    let n = poll_fn(|cx| {
      let mut rb = ReadBuf::new(&mut buf);
      match Pin::new(&mut rd).poll_read(cx, &mut rb) {
        Poll::Ready(Ok(())) => Poll::Ready(rb.filled().len()),
        Poll::Ready(Err(_)) => Poll::Ready(0),
        Poll::Pending => Poll::Pending,
      }
    })
    .await;
    Done::Read(id, rd, buf, n)
  })
}

fn write_op(id: usize, mut wr: OwnedWriteHalf) -> Op {
  Box::pin(async move {
    let _ = poll_fn(|cx| Pin::new(&mut wr).poll_write(cx, RESP)).await;
    Done::Write(id, wr)
  })
}

fn accept_op(l: Rc<TcpListener>) -> Op {
  Box::pin(async move { Done::Accept(l.accept().await.unwrap().0) })
}

/// Time between two requests of one connection: a fair server serves every connection once
/// per round, so the gaps cluster around one round (connections / throughput).
fn report(gaps: &mut Vec<f64>, secs: f64) {
  if gaps.len() < 100 {
    gaps.clear();
    return;
  }
  gaps.sort_by(|a, b| a.partial_cmp(b).unwrap());
  let q = |p: f64| gaps[((gaps.len() - 1) as f64 * p) as usize];
  let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
  eprintln!(
    "req/s {:.0} gap ms: mean {:.1} p50 {:.1} p99 {:.1} max {:.1} (p99/mean {:.1})",
    gaps.len() as f64 / secs, mean, q(0.5), q(0.99), q(1.0), q(0.99) / mean
  );
  gaps.clear();
}

fn spin(us: u64) {
  let t = std::time::Instant::now();
  while t.elapsed().as_micros() < us as u128 {
    std::hint::spin_loop();
  }
}

fn main() {
  let args: Vec<String> = std::env::args().collect();
  let port: u16 = args[1].parse().unwrap();
  let mode = args[2].clone();
  let work_us: u64 = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(10);
  let rt = tokio::runtime::Builder::new_current_thread()
    .enable_io()
    .enable_time()
    .event_interval(61)
    .global_queue_interval(31)
    .max_io_events_per_tick(std::env::var("MAX_IO_EVENTS").map(|v| v.parse().unwrap()).unwrap_or(1024))
    .build()
    .unwrap();
  // As Deno's create_and_run_current_thread: the main future is a task (rt.spawn) on a
  // current-thread runtime, and deno_unsync::spawn spawns !Send futures masked as Send.
  let main = AssertSend(Box::pin(async move {
    let l = Rc::new(TcpListener::bind(("127.0.0.1", port)).await.unwrap());
    if mode == "task_per_conn" {
      loop {
        let (s, _) = l.accept().await.unwrap();
        spawn_local(async move {
          let (mut rd, mut wr) = s.into_split();
          let mut buf = vec![0u8; 65536];
          loop {
            let n = poll_fn(|cx| {
              let mut rb = ReadBuf::new(&mut buf);
              match Pin::new(&mut rd).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => Poll::Ready(rb.filled().len()),
                Poll::Ready(Err(_)) => Poll::Ready(0),
                Poll::Pending => Poll::Pending,
              }
            })
            .await;
            if n == 0 {
              return;
            }
            spin(work_us);
            let _ = poll_fn(|cx| Pin::new(&mut wr).poll_write(cx, RESP)).await;
          }
        });
      }
    }
    let d = Rc::new(Driver::default());
    // P: deno_core's poll_task.
    let dp = d.clone();
    let p = async move {
      poll_fn(|cx| {
        *dp.p_waker.borrow_mut() = Some(cx.waker().clone());
        loop {
          let r = { dp.fu.borrow_mut().poll_next_unpin(cx) };
          match r {
            Poll::Ready(Some(done)) => {
              dp.done.borrow_mut().push_back(done);
              if let Some(w) = dp.e_waker.borrow().as_ref() {
                w.wake_by_ref();
              }
            }
            _ => return Poll::<()>::Pending,
          }
        }
      })
      .await
    };
    if mode == "unconstrained" {
      spawn_local(tokio::task::unconstrained(p));
    } else {
      spawn_local(p);
    }
    // E: the JS event loop: up to 341 completions per tick, each handled and followed by
    // new ops (write then read), as a `for (;;) { await read; await write }` loop does.
    let mut writers: Vec<Option<OwnedWriteHalf>> = Vec::new();
    let mut last_read: Vec<std::time::Instant> = Vec::new();
    let mut gaps: Vec<f64> = Vec::new();
    let mut window = std::time::Instant::now();
    let mut readers: Vec<Option<(OwnedReadHalf, Vec<u8>)>> = Vec::new();
    if let Some(done) = d.submit(accept_op(l.clone())) {
      d.done.borrow_mut().push_back(done);
    }
    poll_fn(|cx| {
      *d.e_waker.borrow_mut() = Some(cx.waker().clone());
      let mut handled = 0;
      while handled < 341 {
        let Some(done) = d.done.borrow_mut().pop_front() else { break };
        handled += 1;
        match done {
          Done::Accept(s) => {
            let (rd, wr) = s.into_split();
            let id = writers.len();
            writers.push(Some(wr));
            last_read.push(std::time::Instant::now());
            readers.push(None);
            if let Some(x) = d.submit(read_op(id, rd, vec![0u8; 65536])) {
              d.done.borrow_mut().push_back(x);
            }
            if let Some(x) = d.submit(accept_op(l.clone())) {
              d.done.borrow_mut().push_back(x);
            }
          }
          Done::Read(id, rd, buf, n) => {
            if n == 0 {
              writers[id] = None;
              continue;
            }
            let now = std::time::Instant::now();
            gaps.push(now.duration_since(last_read[id]).as_secs_f64() * 1000.0);
            last_read[id] = now;
            if window.elapsed().as_secs() >= 2 {
              report(&mut gaps, window.elapsed().as_secs_f64());
              window = std::time::Instant::now();
            }
            spin(work_us);
            readers[id] = Some((rd, buf));
            let wr = writers[id].take().unwrap();
            if let Some(x) = d.submit(write_op(id, wr)) {
              d.done.borrow_mut().push_back(x);
            }
          }
          Done::Write(id, wr) => {
            writers[id] = Some(wr);
            let (rd, buf) = readers[id].take().unwrap();
            if let Some(x) = d.submit(read_op(id, rd, buf)) {
              d.done.borrow_mut().push_back(x);
            }
          }
        }
      }
      if !d.done.borrow().is_empty() {
        cx.waker().wake_by_ref();
      }
      Poll::<()>::Pending
    })
    .await;
  }));
  let join = { let _g = rt.enter(); tokio::spawn(main) };
  rt.block_on(join).unwrap();
}

/// deno_unsync::MaskFutureAsSend: only sound on a current-thread runtime.
struct AssertSend<F>(F);
unsafe impl<F> Send for AssertSend<F> {}
impl<F: Future + Unpin> Future for AssertSend<F> {
  type Output = F::Output;
  fn poll(mut self: Pin<&mut Self>, cx: &mut Context) -> Poll<F::Output> {
    Pin::new(&mut self.0).poll(cx)
  }
}
fn spawn_local<F: Future<Output = ()> + 'static>(f: F) {
  tokio::spawn(AssertSend(Box::pin(f)));
}
