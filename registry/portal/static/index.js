import { api, assert, createPasskey, errorText, say } from "./portal.js";

const notice = document.getElementById("notice");

document.getElementById("signup").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = document.getElementById("name").value.trim();
  try {
    say(notice, "Creating your passkey...");
    const { options } = await api("/portal/api/sign-up/options", { name });
    const credential = await createPasskey(options);
    await api("/portal/api/sign-up", { name, credential });
    location.assign("/portal/phones");
  } catch (e) {
    say(notice, `Sign-up failed: ${errorText(e)}`, true);
  }
});

document.getElementById("signin").addEventListener("click", async () => {
  try {
    say(notice, "Waiting for your passkey...");
    const { options } = await api("/portal/api/sign-in/options", {});
    const credential = await assert(options.challenge, undefined, options.rpId);
    await api("/portal/api/sign-in", { credential });
    location.assign("/portal/phones");
  } catch (e) {
    say(notice, `Sign-in failed: ${errorText(e)}`, true);
  }
});
