# Vigil agent helper for Windows: one long-lived PowerShell session that reports processes and
# packet-capture state as JSON lines on stdout, so the agent does not start a process per scan.
# Lines:  {"kind":"process","existing":true|false,...}  {"kind":"capture",...}
#         {"kind":"ready","mode":"events"|"poll"}       {"kind":"error","message":"..."}
# Commands on stdin (one JSON per line): {"cmd":"stop"}. End of stdin also stops the script.
# Windows PowerShell 5.1 compatible: no ?? / ?: operators, no ConvertFrom-Json -AsHashtable.
param(
  [int]$CaptureIntervalSeconds = 30,
  [int]$PollIntervalSeconds = 5,
  # Comma-separated service names from shared/signatures/captureDrivers.json.
  [string]$CaptureDriverNames = ''
)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
$out = [Console]::Out

function Write-Line($object) {
  # ConvertTo-Json in 5.1 turns DateTime into "\/Date(ms)\/"; dates are sent as ISO strings instead.
  $out.WriteLine(($object | ConvertTo-Json -Compress -Depth 4))
  $out.Flush()
}

function Write-VigilError([string]$message) {
  Write-Line ([ordered]@{ kind = 'error'; message = $message })
}

$signerCache = @{}
$versionCache = @{}

function Get-Signer([string]$path) {
  if (-not $path) { return $null }
  if ($signerCache.ContainsKey($path)) { return $signerCache[$path] }
  $subject = $null
  try {
    $signature = Get-AuthenticodeSignature -LiteralPath $path
    if ($signature.Status -eq 'Valid' -and $signature.SignerCertificate) {
      $subject = $signature.SignerCertificate.Subject
    }
  } catch { $subject = $null }
  $signerCache[$path] = $subject
  return $subject
}

function Get-OriginalFileName([string]$path) {
  if (-not $path) { return $null }
  if ($versionCache.ContainsKey($path)) { return $versionCache[$path] }
  $name = $null
  try { $name = (Get-Item -LiteralPath $path -Force).VersionInfo.OriginalFilename } catch { $name = $null }
  $versionCache[$path] = $name
  return $name
}

function Get-Owner($process) {
  try {
    $owner = Invoke-CimMethod -InputObject $process -MethodName GetOwner
    if ($owner.ReturnValue -eq 0 -and $owner.User) {
      if ($owner.Domain) { return "$($owner.Domain)\$($owner.User)" }
      return $owner.User
    }
  } catch { }
  return ''
}

function ConvertTo-IsoTime($value) {
  if ($value -is [DateTime]) { return $value.ToUniversalTime().ToString('o') }
  return $null
}

function ConvertTo-ProcessLine($process, [bool]$existing) {
  $exe = [string]$process.ExecutablePath
  return [ordered]@{
    kind             = 'process'
    existing         = $existing
    pid              = [int64]$process.ProcessId
    ppid             = [int64]$process.ParentProcessId
    name             = [string]$process.Name
    exe              = $exe
    cmdline          = [string]$process.CommandLine
    created          = ConvertTo-IsoTime $process.CreationDate
    user             = Get-Owner $process
    signer           = Get-Signer $exe
    originalFileName = Get-OriginalFileName $exe
  }
}

function Get-ProcessKey($process) {
  return "$($process.ProcessId)@$(ConvertTo-IsoTime $process.CreationDate)"
}

$driverNames = @($CaptureDriverNames -split ',' | ForEach-Object { $_.Trim() } | Where-Object { $_ })
# WQL filter so CIM returns only these services instead of every driver and service.
$driverFilter = (@($driverNames | ForEach-Object { "Name = '$($_ -replace "'", "\'")'" }) -join ' OR ')

function Write-CaptureState {
  $problems = @()
  $adapters = @()
  try {
    $adapters = @(Get-NetAdapter | ForEach-Object {
        [ordered]@{ name = [string]$_.Name; promiscuous = [bool]$_.PromiscuousMode }
      })
  } catch { $problems += "Get-NetAdapter: $($_.Exception.Message)" }
  $drivers = @()
  if ($driverNames.Count -gt 0) {
    foreach ($class in @('Win32_SystemDriver', 'Win32_Service')) {
      try {
        $drivers += @(Get-CimInstance -ClassName $class -Filter $driverFilter | ForEach-Object {
            [ordered]@{
              name        = [string]$_.Name
              displayName = [string]$_.DisplayName
              state       = [string]$_.State
              running     = ($_.State -eq 'Running')
              startMode   = [string]$_.StartMode
              path        = [string]$_.PathName
              'class'     = $class
            }
          })
      } catch { $problems += "${class}: $($_.Exception.Message)" }
    }
  }
  Write-Line ([ordered]@{
      kind     = 'capture'
      time     = [DateTime]::UtcNow.ToString('o')
      adapters = $adapters
      drivers  = $drivers
      problems = $problems
    })
}

# Baseline: every running process once, marked existing.
$known = @{}
try {
  foreach ($process in @(Get-CimInstance -ClassName Win32_Process)) {
    $known[(Get-ProcessKey $process)] = $true
    Write-Line (ConvertTo-ProcessLine $process $true)
  }
} catch { Write-VigilError "Win32_Process: $($_.Exception.Message)" }

# Process starts: WMI trace events need administrator; otherwise poll and diff in this session.
$sourceId = 'VigilProcessStart'
$mode = 'events'
try {
  Register-CimIndicationEvent -ClassName Win32_ProcessStartTrace -SourceIdentifier $sourceId | Out-Null
} catch {
  $mode = 'poll'
  Write-VigilError "process start events unavailable ($($_.Exception.Message)); polling Win32_Process every $PollIntervalSeconds s"
}
Write-Line ([ordered]@{ kind = 'ready'; mode = $mode })
Write-CaptureState

# [Console]::In.ReadLineAsync blocks on .NET Framework (its SyncTextReader reads synchronously);
# a StreamReader over the raw stream reads on a pool thread, so the loop keeps running.
$stdin = New-Object System.IO.StreamReader -ArgumentList ([Console]::OpenStandardInput())
$command = $stdin.ReadLineAsync()
$nextCapture = [DateTime]::UtcNow.AddSeconds($CaptureIntervalSeconds)
$nextPoll = [DateTime]::UtcNow.AddSeconds($PollIntervalSeconds)
$running = $true

while ($running) {
  if ($command.IsCompleted) {
    $line = $command.Result
    if ($null -eq $line) { break }
    try {
      $message = $line | ConvertFrom-Json
      if ($message.cmd -eq 'stop') { $running = $false; break }
      Write-VigilError "unknown command: $line"
    } catch { Write-VigilError "bad command line: $line" }
    $command = $stdin.ReadLineAsync()
  }

  if ($mode -eq 'events') {
    # $startEvent, not $event: $Event is an automatic variable.
    $startEvent = Wait-Event -SourceIdentifier $sourceId -Timeout 1
    while ($startEvent) {
      $trace = $startEvent.SourceEventArgs.NewEvent
      Remove-Event -EventIdentifier $startEvent.EventIdentifier
      try {
        $process = Get-CimInstance -ClassName Win32_Process -Filter "ProcessId = $([int64]$trace.ProcessID)"
        if ($process) {
          Write-Line (ConvertTo-ProcessLine $process $false)
        } else {
          # Already gone: report what the trace event itself carries.
          Write-Line ([ordered]@{
              kind     = 'process'
              existing = $false
              pid      = [int64]$trace.ProcessID
              ppid     = [int64]$trace.ParentProcessID
              name     = [string]$trace.ProcessName
              exe      = ''
              cmdline  = ''
              created  = [DateTime]::FromFileTimeUtc([int64]$trace.TIME_CREATED).ToString('o')
              user     = ''
            })
        }
      } catch { Write-VigilError "process start $($trace.ProcessID): $($_.Exception.Message)" }
      $startEvent = Get-Event -SourceIdentifier $sourceId -ErrorAction SilentlyContinue | Select-Object -First 1
    }
  } else {
    Start-Sleep -Milliseconds 250
    if ([DateTime]::UtcNow -ge $nextPoll) {
      $nextPoll = [DateTime]::UtcNow.AddSeconds($PollIntervalSeconds)
      try {
        $seen = @{}
        foreach ($process in @(Get-CimInstance -ClassName Win32_Process)) {
          $key = Get-ProcessKey $process
          $seen[$key] = $true
          if (-not $known.ContainsKey($key)) { Write-Line (ConvertTo-ProcessLine $process $false) }
        }
        $known = $seen
      } catch { Write-VigilError "Win32_Process poll: $($_.Exception.Message)" }
    }
  }

  if ([DateTime]::UtcNow -ge $nextCapture) {
    $nextCapture = [DateTime]::UtcNow.AddSeconds($CaptureIntervalSeconds)
    Write-CaptureState
  }
}

if ($mode -eq 'events') {
  Unregister-Event -SourceIdentifier $sourceId -ErrorAction SilentlyContinue
}
exit 0
