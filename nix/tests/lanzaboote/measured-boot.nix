# measuredBoot: every stub carries .pcrpkey and .pcrsig signed with the PCR key, and a LUKS2 volume
# bound to that key (systemd-cryptenroll --tpm2-public-key, autoCryptenroll) unlocks after a reboot.
{ mkTest, pkgs, ... }:
let
  pcrKeys = pkgs.runCommand "pcr-keys" { nativeBuildInputs = [ pkgs.openssl ]; } ''
    mkdir $out
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $out/priv.pem
    openssl pkey -in $out/priv.pem -pubout -out $out/pub.pem
  '';
in
mkTest {
  name = "measured-boot";
  tpm = true;
  machine =
    { pkgs, ... }:
    {
      virtualisation.emptyDiskImages = [ 64 ];
      environment.systemPackages = [
        pkgs.binutils
        pkgs.cryptsetup
      ];
      systemd.tmpfiles.rules = [
        "C /var/lib/pcr/priv.pem 0400 root root - ${pcrKeys}/priv.pem"
        "C /var/lib/pcr/pub.pem 0444 root root - ${pcrKeys}/pub.pem"
      ];
      boot.lanzaboote = {
        configurationLimit = 8;
        measuredBoot = {
          enable = true;
          pcrPrivateKeyFile = "/var/lib/pcr/priv.pem";
          pcrPublicKeyFile = "/var/lib/pcr/pub.pem";
        };
      };
    };
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    machine.succeed("/run/current-system/bin/switch-to-configuration boot")
    stub = esp_files("EFI/Linux/nixos-generation-1-*.efi")[0]
    machine.succeed(f"objdump -h {stub} | grep -F .pcrsig")
    machine.succeed(f"objdump -h {stub} | grep -F .pcrpkey")
    machine.reboot()
    machine.wait_for_unit("multi-user.target")
    machine.succeed("echo -n pw | cryptsetup luksFormat --batch-mode /dev/vdb -")
    machine.succeed("PASSWORD=pw systemd-cryptenroll --tpm2-device=auto --tpm2-public-key=/var/lib/pcr/pub.pem --tpm2-public-key-pcrs=11 /dev/vdb")
    machine.succeed("systemd-cryptsetup attach test /dev/vdb - tpm2-device=auto,headless=1")
  '';
}
