"""Headless Firefox (Debian's firefox-esr) driven through Marionette with PyPI's marionette-driver: no geckodriver.

    firefox = Firefox.start(workdir)      # firefox-esr --headless --marionette, a fresh profile, port 0
    firefox.get(url); firefox.execute_async_script(js, arg, …)   # the subset of Selenium's WebDriver the tests use
    firefox.console_drain()                # every console message since the last drain (see below)
    firefox.quit()

Console messages. Marionette has no get_log("browser"). Firefox reports a CORS failure as an nsIScriptError (category
the security.properties key, e.g. "CORSMissingAllowOrigin2") logged to the nsIConsoleService of the page's content
process, with the page's inner window ID: that copy is what the web console shows. A process script loaded into
every content process listens there and sends each message, and each console.* call of a page, to the parent,
where the chrome window keeps them until drained. (devtools.console.stdout.content prints console.* calls only,
not these errors; the parent's own console service gets forwarded copies without the window ID, so it cannot tell
a page's messages from the browser's.) Reading chrome scope needs -remote-allow-system-access.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from selenium.common import exceptions as selenium_errors

FIREFOX = os.environ.get("FIREFOX_BIN", "/usr/bin/firefox-esr")
MESSAGE_NAME = "corsproxy-tests:console"

# user.js of the fresh profile: Marionette on a free port (written to <profile>/MarionetteActivePort), nothing that
# phones home or shows a first-run page, and plain http:// to the loopback hosts the tests use. Marionette applies
# its own "recommended preferences" too, but only once it starts; these hold from the first instant.
PREFS: dict[str, object] = {
    "marionette.port": 0,
    # first run, default browser, session restore, what's new
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.startup.homepage": "about:blank",
    "startup.homepage_welcome_url": "about:blank",
    "startup.homepage_welcome_url.additional": "",
    "browser.aboutwelcome.enabled": False,
    "trailhead.firstrun.didSeeAboutWelcome": True,
    "browser.sessionstore.resume_from_crash": False,
    "toolkit.startup.max_resumed_crashes": -1,
    "termsofuse.bypassNotification": True,
    "browser.newtabpage.enabled": False,
    "browser.newtabpage.activity-stream.feeds.system.topsites": False,
    "browser.newtabpage.activity-stream.feeds.section.topstories": False,
    "browser.newtabpage.activity-stream.showSponsoredTopSites": False,
    "browser.topsites.contile.enabled": False,
    # updates, telemetry, studies, remote settings, safe browsing, captive portal, push, search, geolocation
    "app.update.disabledForTesting": True,
    "app.update.auto": False,
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "app.shield.optoutstudies.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.policy.dataSubmissionPolicyBypassNotification": True,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.usage.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.archive.enabled": False,
    "toolkit.telemetry.server": "data:,",
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "services.settings.server": "data:,#remote-settings-dummy/v1",
    "services.settings.loglevel": "off",
    "security.remote_settings.intermediates.enabled": False,
    "security.remote_settings.crlite_filters.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "browser.safebrowsing.provider.google4.updateURL": "",
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.manage-offline-status": False,
    "network.trr.mode": 5,  # DNS over HTTPS off
    "dom.push.connection.enabled": False,
    "browser.search.update": False,
    "browser.region.network.url": "",
    "browser.region.update.enabled": False,
    "geo.provider.network.url": "",
    "extensions.update.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.blocklist.enabled": False,
    "media.gmp-manager.updateEnabled": False,
    "browser.ml.enable": False,
    "browser.translations.enable": False,
    "browser.urlbar.suggest.searches": False,
    "browser.discovery.enabled": False,
    "identity.fxaccounts.enabled": False,
    "signon.rememberSignons": False,
    # no guessing ahead: only the connections a test asks for
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.http.speculative-parallel-limit": 0,
    "browser.urlbar.speculativeConnect.enabled": False,
    "browser.places.speculativeConnect.enabled": False,
    # http:// stays http:// (the tests' origins are http on loopback names such as evil.test)
    "dom.security.https_first": False,
    "dom.security.https_first_schemeless": False,
    "dom.security.https_only_mode": False,
    "network.proxy.type": 0,
    "network.proxy.allow_hijacking_localhost": False,
    # quiet
    "browser.tabs.warnOnClose": False,
    "browser.warnOnQuit": False,
    "dom.ipc.reportProcessHangs": False,
    "focusmanager.testmode": True,
}

# MOZ_DISABLE_NONLOCAL_CONNECTIONS marks the run as a test run: only then does a release build honour
# services.settings.server above and skip Remote Settings altogether (else it polls firefox.settings.services…).
ENV = {"MOZ_DISABLE_NONLOCAL_CONNECTIONS": "1", "MOZ_CRASHREPORTER_DISABLE": "1", "MOZ_DISABLE_AUTO_SAFE_MODE": "1"}

# Runs in every content process, present and future: forwards that process's console messages to the parent.
PROCESS_SCRIPT = r"""
(() => {
  const name = %(name)s;
  const text = (value) => {
    try { return typeof value === "string" ? value : JSON.stringify(value) ?? String(value); }
    catch (e) { return String(value); }
  };
  Services.console.registerListener({
    observe(message) {
      if (!(message instanceof Ci.nsIScriptError)) return;
      sendAsyncMessage(name, {
        kind: "error", text: message.errorMessage, category: message.category,
        warning: Boolean(message.flags & Ci.nsIScriptError.warningFlag), window: message.innerWindowID,
        source: message.sourceName, time: message.microSecondTimeStamp,
      });
    },
  });
  const storage = Cc["@mozilla.org/consoleAPI-storage;1"].getService(Ci.nsIConsoleAPIStorage);
  storage.addLogEventListener((event) => {
    sendAsyncMessage(name, {
      kind: "console", text: (event.arguments || []).map(text).join(" "), category: "console." + event.level,
      warning: event.level === "warn", window: Number(event.innerID) || 0, source: event.filename || "",
      time: Math.round((event.timeStamp || 0) * 1000),
    });
  }, Services.scriptSecurityManager.getSystemPrincipal());
})();
"""

INSTALL_COLLECTOR = """
const [name, script] = arguments;
if (!window.corsproxyConsole) {
  window.corsproxyConsole = [];
  Services.ppmm.addMessageListener(name, (message) => window.corsproxyConsole.push(message.data));
  Services.ppmm.loadProcessScript("data:application/javascript;charset=utf-8," + encodeURIComponent(script), true);
}
"""

DRAIN_COLLECTOR = "return window.corsproxyConsole.splice(0);"

_ERRORS = {
    "NoSuchElementException": selenium_errors.NoSuchElementException,
    "StaleElementException": selenium_errors.StaleElementReferenceException,
    "ScriptTimeoutException": selenium_errors.TimeoutException,
    "TimeoutException": selenium_errors.TimeoutException,
    "JavascriptException": selenium_errors.JavascriptException,
    "ElementNotInteractableException": selenium_errors.ElementNotInteractableException,
    "ElementClickInterceptedException": selenium_errors.ElementClickInterceptedException,
}


def _selenium_errors(function):
    """Marionette's exceptions as Selenium's, so waits with ignored_exceptions work the same in both browsers."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        from marionette_driver import errors
        try:
            return function(*args, **kwargs)
        except errors.MarionetteException as error:
            replacement = _ERRORS.get(type(error).__name__)
            if replacement is None:
                raise
            raise replacement(str(error)) from error

    return wrapper


class Element:
    """A Marionette element with Selenium's names."""

    def __init__(self, element):
        self._element = element

    @property
    @_selenium_errors
    def text(self) -> str:
        return self._element.text

    @_selenium_errors
    def get_attribute(self, name: str):
        """Selenium's get_attribute: the attribute, else the property of that name (e.g. textContent)."""
        value = self._element.get_attribute(name)
        return value if value is not None else self._element.get_property(name)

    @_selenium_errors
    def click(self) -> None:
        self._element.click()

    @_selenium_errors
    def is_displayed(self) -> bool:
        return self._element.is_displayed()

    @_selenium_errors
    def is_enabled(self) -> bool:
        return self._element.is_enabled()

    @_selenium_errors
    def find_element(self, by: str, value: str) -> Element:
        return Element(self._element.find_element(by, value))

    @_selenium_errors
    def find_elements(self, by: str, value: str) -> list[Element]:
        return [Element(e) for e in self._element.find_elements(by, value)]


class Firefox:
    """One headless firefox-esr with its own profile, and a Marionette session on it."""

    name = "firefox"

    def __init__(self, process: subprocess.Popen, profile: Path, log_path: Path, client):
        self.process = process
        self.profile = profile
        self.log_path = log_path
        self.client = client
        self.version = client.session_capabilities.get("browserVersion", "")

    @classmethod
    def start(cls, workdir: Path, extra_prefs: dict | None = None, timeout: float = 60) -> Firefox:
        from marionette_driver.marionette import Marionette

        profile = Path(tempfile.mkdtemp(prefix="firefox-profile-", dir=workdir))
        prefs = {**PREFS, **(extra_prefs or {})}
        (profile / "user.js").write_text("".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n"
                                                 for k, v in prefs.items()))
        log_path = workdir / f"{profile.name}.log"
        env = {**os.environ, **ENV}
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [FIREFOX, "--headless", "--marionette", "-remote-allow-system-access", "--no-remote",
                 "--profile", str(profile), "about:blank"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        port_file = profile / "MarionetteActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and port_file.read_text().strip().isdigit()):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"firefox-esr did not start Marionette (exit {process.poll()}): "
                                   f"{log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        client = Marionette(host="127.0.0.1", port=int(port_file.read_text()))
        client.start_session(timeout=timeout)
        client.timeout.script = 20
        client.timeout.page_load = 20
        firefox = cls(process, profile, log_path, client)
        with client.using_context(client.CONTEXT_CHROME):
            client.execute_script(INSTALL_COLLECTOR,
                                  script_args=[MESSAGE_NAME, PROCESS_SCRIPT % {"name": json.dumps(MESSAGE_NAME)}])
        return firefox

    # ---- the subset of Selenium's WebDriver the tests use ----

    @_selenium_errors
    def get(self, url: str) -> None:
        self.client.navigate(url)

    @property
    @_selenium_errors
    def current_url(self) -> str:
        return self.client.get_url()

    @_selenium_errors
    def find_element(self, by: str, value: str) -> Element:
        return Element(self.client.find_element(by, value))

    @_selenium_errors
    def find_elements(self, by: str, value: str) -> list[Element]:
        return [Element(e) for e in self.client.find_elements(by, value)]

    @_selenium_errors
    def execute_script(self, script: str, *args):
        return self.client.execute_script(script, script_args=list(args), sandbox=None)

    @_selenium_errors
    def execute_async_script(self, script: str, *args):
        """In the page's own scope (sandbox=None), as WebDriver does; the callback is the last argument."""
        return self.client.execute_async_script(script, script_args=list(args), sandbox=None)

    def save_screenshot(self, path: str) -> None:
        Path(path).write_bytes(base64.b64decode(self.client.screenshot()))

    # ---- console ----

    def console_drain(self) -> list[dict]:
        """The console messages of pages (errors, warnings, console.* calls) since the last drain, in order:
        dicts with text, category (for CORS errors the security.properties key), warning, kind."""
        with self.client.using_context(self.client.CONTEXT_CHROME):
            entries = self.client.execute_script(DRAIN_COLLECTOR)
        return [e for e in entries if e["window"]]  # a page's, not the browser's own

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def quit(self) -> None:
        with contextlib.suppress(Exception):
            self.client._send_message("Marionette:Quit", {"flags": ["eForceQuit"]})
        with contextlib.suppress(Exception):
            self.client.delete_session(send_request=False)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, 9)
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
