// Passkeys (WebAuthn): signing in without typing, and adding a passkey on the account page.
// Progressive enhancement: the passkey parts of the page are `hidden` in the HTML and shown here only when
// the browser can use passkeys, so without JavaScript (or without WebAuthn) nothing is offered that does
// nothing. Messages come translated from the server (or from the button's data-* attributes) and are put
// in a live region next to the button.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) {
    return;
  }

  function toBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    json.challenge = toBytes(json.challenge);
    json.user.id = toBytes(json.user.id);
    (json.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return json;
  }

  function requestOptions(json) {
    json.challenge = toBytes(json.challenge);
    (json.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return json;
  }

  function credentialJSON(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: {clientDataJSON: toBase64url(response.clientDataJSON)}
    };
    if (credential.authenticatorAttachment) {
      out.authenticatorAttachment = credential.authenticatorAttachment;
    }
    if (response.attestationObject) {
      out.response.attestationObject = toBase64url(response.attestationObject);
      if (response.getTransports) {
        out.response.transports = response.getTransports();
      }
    } else {
      out.response.authenticatorData = toBase64url(response.authenticatorData);
      out.response.signature = toBase64url(response.signature);
      if (response.userHandle) {
        out.response.userHandle = toBase64url(response.userHandle);
      }
    }
    return out;
  }

  function post(url, token, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) {
          var error = new Error(data.message || "");
          error.fromServer = true;
          throw error;
        }
        return data;
      });
    });
  }

  function explain(status, element, error) {
    // NotAllowedError: the reader cancelled, or the time ran out; the server's own message otherwise.
    var message = "";
    if (error && error.name === "NotAllowedError") {
      message = element.getAttribute("data-cancelled");
    } else if (error && error.fromServer) {
      message = error.message;
    }
    status.textContent = message || element.getAttribute("data-failed");
  }

  // Signing in.
  document.querySelectorAll("[data-passkey-sign-in]").forEach(function (section) {
    var button = section.querySelector("button");
    var status = section.querySelector(".passkey-status");
    section.hidden = false;
    button.addEventListener("click", function () {
      var token = button.getAttribute("data-csrf");
      var keep = document.getElementById("keep");
      var next = document.querySelector("input[name=next]");
      status.textContent = "";
      button.disabled = true;
      post("/account/passkey-sign-in/options", token)
        .then(function (options) {
          return navigator.credentials.get({publicKey: requestOptions(options)});
        })
        .then(function (credential) {
          return post("/account/passkey-sign-in", token, {
            credential: credentialJSON(credential),
            keep: Boolean(keep && keep.checked),
            next: next ? next.value : ""
          });
        })
        .then(function (result) { window.location.assign(result.redirect); })
        .catch(function (error) {
          button.disabled = false;
          explain(status, button, error);
        });
    });
  });

  // Adding a passkey on the account page: the form's submit runs the ceremony instead.
  document.querySelectorAll("form[data-passkey-add]").forEach(function (form) {
    var status = form.querySelector(".passkey-status");
    var button = form.querySelector("button[type=submit]");
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var token = form.querySelector("input[name=csrf_token]").value;
      var name = form.querySelector("input[name=passkey_name]").value;
      status.textContent = "";
      button.disabled = true;
      post("/account/passkeys/options", token)
        .then(function (options) {
          return navigator.credentials.create({publicKey: creationOptions(options)});
        })
        .then(function (credential) {
          return post("/account/passkeys", token, {credential: credentialJSON(credential), name: name});
        })
        .then(function (result) { window.location.assign(result.redirect); })
        .catch(function (error) {
          button.disabled = false;
          explain(status, button, error);
        });
    });
  });
})();
