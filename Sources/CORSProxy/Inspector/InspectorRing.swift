internal import NIOConcurrencyHelpers
internal import NIOCore

/// The inspector's memory: the most recent exchanges, and who is watching them live.
///
/// A bounded ring: at most ``capacity`` entries, the oldest evicted first, whatever the traffic. Recording is
/// one lock, an append and, only while someone watches, one coalesced wake-up per subscriber; nothing is
/// formatted here. A subscriber formats on its own event loop, reading the ring from its cursor, so a slow one
/// holds no queue of its own: what the ring evicted before it read it is counted as dropped for it alone.
///
/// Any thread.
final class InspectorRing: ExchangeSink {
    /// One exchange in the ring.
    struct Entry: Sendable {
        /// 1 for the first exchange recorded, one more for each after it.
        let sequence: UInt64
        let time: WallClock
        let record: ExchangeRecord
    }

    /// A watcher of the live stream (``InspectorStream``).
    struct Subscriber: Sendable {
        /// Called after each record, on the recording thread: must only schedule work.
        let wake: @Sendable () -> Void
        /// Called when the server shuts down.
        let close: @Sendable () -> Void
    }

    /// How many exchanges the ring keeps.
    static let defaultCapacity = 1_000

    let capacity: Int
    private struct State {
        var entries: CircularBuffer<Entry>
        var nextSequence: UInt64 = 1
        var subscribers: [Int: Subscriber] = [:]
        var nextSubscriber = 0
    }

    private let state: NIOLockedValueBox<State>

    /// - Parameter capacity: The number of exchanges kept.
    init(capacity: Int = InspectorRing.defaultCapacity) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.state = NIOLockedValueBox(State(entries: CircularBuffer(initialCapacity: capacity)))
    }

    func record(_ record: ExchangeRecord) {
        // The inspector's own requests on the main port would flood the list it shows.
        guard !record.isInspectorRequest else { return }
        let time = WallClock.now()
        let subscribers = self.state.withLockedValue { state -> [Subscriber] in
            // `removeFirst(1)`, not `removeFirst()`: that one returns the entry, a copy made only to be dropped.
            if state.entries.count == self.capacity { state.entries.removeFirst(1) }
            state.entries.append(Entry(sequence: state.nextSequence, time: time, record: record))
            state.nextSequence += 1
            return state.subscribers.isEmpty ? [] : Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.wake() }
    }

    /// The number of entries held.
    var count: Int { self.state.withLockedValue { $0.entries.count } }

    /// Up to `limit` entries after `sequence`, oldest first, and how many after it were evicted unread.
    func entries(after sequence: UInt64, limit: Int) -> (entries: [Entry], missed: UInt64) {
        self.state.withLockedValue { state in
            guard let first = state.entries.first else { return ([], 0) }
            let missed = first.sequence > sequence + 1 ? first.sequence - sequence - 1 : 0
            let start = Int(max(sequence + 1, first.sequence) - first.sequence)
            guard start < state.entries.count else { return ([], missed) }
            let end = min(state.entries.count, start + limit)
            let base = state.entries.startIndex
            let slice = state.entries[
                state.entries.index(base, offsetBy: start)..<state.entries.index(base, offsetBy: end)
            ]
            return (Array(slice), missed)
        }
    }

    /// The entry of the exchange with this request id, while the ring still holds it.
    func entry(id: String) -> Entry? {
        guard let dash = id.lastIndex(of: "-"), let value = UInt64(id[id.index(after: dash)...]) else { return nil }
        return self.state.withLockedValue { state in
            state.entries.first { $0.record.requestID.value == value }
        }.flatMap { $0.record.requestID.description == id ? $0 : nil }
    }

    /// Starts delivering wake-ups to `subscriber`.
    /// - Returns: The token for ``unsubscribe(_:)``, and the sequence just before the entries held (so the first
    ///   read returns them all).
    func subscribe(_ subscriber: Subscriber) -> (token: Int, cursor: UInt64) {
        self.state.withLockedValue { state in
            state.nextSubscriber += 1
            state.subscribers[state.nextSubscriber] = subscriber
            return (state.nextSubscriber, (state.entries.first?.sequence ?? state.nextSequence) - 1)
        }
    }

    func unsubscribe(_ token: Int) {
        _ = self.state.withLockedValue { $0.subscribers.removeValue(forKey: token) }
    }

    /// The number of live subscribers.
    var subscriberCount: Int { self.state.withLockedValue { $0.subscribers.count } }

    /// Ends every live stream (the server is shutting down).
    func closeSubscribers() {
        let subscribers = self.state.withLockedValue { Array($0.subscribers.values) }
        for subscriber in subscribers { subscriber.close() }
    }
}
