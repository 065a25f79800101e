import Foundation
import Testing

@testable import CORSProxy

/// When the certificate watcher reads the files again: only once a change has held still for one poll, and a
/// state that was tried (loaded or refused) never twice.
@Suite("CertificateStore.StateMachine")
struct CertificateStoreStateMachineTests {
    @Test(
        "a change is loaded at the first poll that sees it unchanged; one still moving waits; a tried state is not retried"
    )
    func settles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "corsproxy-sm-\(UUID().uuidString)"
        )
        .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificate = "\(directory)/tls.crt"
        let key = "\(directory)/tls.key"
        func write(_ path: String, _ text: String) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        }
        func stamps() -> CertificateStore.Stamps {
            CertificateStore.Stamps(certificate: certificate, privateKey: key)
        }
        try write(certificate, "one")
        try write(key, "one")
        var machine = CertificateStore.StateMachine(loaded: stamps())
        #expect(machine.polled(stamps()) == .none, "nothing changed")

        try write(certificate, "two")
        #expect(machine.polled(stamps()) == .none, "the certificate changed: wait for the key")
        try write(key, "two, longer")
        #expect(machine.polled(stamps()) == .none, "the key changed since: wait again")
        #expect(machine.polled(stamps()) == .load, "both held still for a poll")
        #expect(machine.polled(stamps()) == .none, "tried: not again")
        #expect(machine.polled(stamps()) == .none)

        try FileManager.default.removeItem(atPath: key)
        #expect(machine.polled(stamps()) == .none)
        #expect(machine.polled(stamps()) == .load, "a file gone is a change too")
        #expect(machine.polled(stamps()) == .none)
        try write(key, "three")
        #expect(machine.polled(stamps()) == .none)
        #expect(machine.polled(stamps()) == .load, "and so is its coming back")
    }
}
