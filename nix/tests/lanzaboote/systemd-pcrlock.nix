# systemd-pcrlock reads the stub's PCR 11 events from the event log, one per UKI section.
# (lanzatool writes no .pcrlock policy files; this checks the measurements pcrlock would build on.)
{ mkTest, ... }:
mkTest {
  name = "systemd-pcrlock";
  tpm = true;
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    log = machine.succeed("/run/current-system/sw/lib/systemd/systemd-pcrlock log --json=short")
    for section in [".linux", ".osrel", ".cmdline", ".initrd"]:
        assert f"String: {section}" in log, section
  '';
}
