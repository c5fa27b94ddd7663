# The stub started directly by the firmware (as EFI/BOOT/BOOTX64.EFI, no systemd-boot) sets the
# loader variables itself; with a TPM it reports the PCR it measured the kernel image into.
{ mkTest, ... }:
{ tpm }:
let
  var = name: "/sys/firmware/efi/efivars/${name}-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f";
  # efivarfs: 4 bytes of attributes, then the UTF-16LE value.
  readVar = name: "tail -c +5 ${var name} | iconv -f UTF-16LE -t UTF-8 | tr -d '\\0'";
in
mkTest {
  name = "export-efivars${if tpm then "-tpm" else ""}";
  inherit tpm;
  testScript = ''
    machine.start()
    machine.wait_for_unit("multi-user.target")
    stub = esp_files("EFI/Linux/nixos-generation-1-*.efi")[0]
    machine.succeed(f"cp {stub} /boot/EFI/BOOT/BOOTX64.EFI")
    machine.succeed(f"cp {stub} /boot/EFI/systemd/systemd-bootx64.efi")
    machine.succeed("efibootmgr | grep -q . ; sync")
    machine.reboot()
    machine.wait_for_unit("multi-user.target")
    machine.fail("test -e ${var "LoaderEntrySelected"}")
    for name in ["LoaderDevicePartUUID", "LoaderImageIdentifier", "LoaderFirmwareInfo", "LoaderFirmwareType", "StubInfo", "StubFeatures"]:
        machine.succeed(f"test -e /sys/firmware/efi/efivars/{name}-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f")
    machine.succeed("${readVar "StubInfo"} | grep -F lanzaboote")
    machine.succeed("${readVar "LoaderImageIdentifier"} | grep -F '\\EFI\\BOOT\\BOOTX64.EFI'")
    machine.succeed("${readVar "LoaderFirmwareInfo"} | grep -F 'EDK II'")
    machine.succeed("${readVar "LoaderFirmwareType"} | grep -F UEFI")
    ${
      if tpm then
        ''machine.succeed("test \"$(${readVar "StubPcrKernelImage"})\" = 11")''
      else
        ''machine.fail("test -e ${var "StubPcrKernelImage"}")''
    }
  '';
}
