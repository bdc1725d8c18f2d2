# Borealis from a fresh clone on Windows: `.\Borealis.ps1 demo`, `.\Borealis.ps1 test`, or
# `.\Borealis.ps1 ARGS` (ARGS go to the `borealis` command). The mirror of Borealis.sh: the first run
# creates .venv and installs the project into it; later runs start at once (the install is redone
# only when pyproject.toml changes). Needs Python 3.11 or newer (the `py` launcher or python on PATH;
# BOREALIS_PYTHON names one explicitly).
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$Root = $PSScriptRoot
$Venv = Join-Path $Root '.venv'
$VenvPython = Join-Path $Venv 'Scripts\python.exe'
$Stamp = Join-Path $Venv '.borealis-installed'

function Test-Python([string[]]$Command) {
    # True when the command runs a Python of version 3.11 or newer.
    $exe = $Command[0]
    if (-not (Get-Command $exe -ErrorAction SilentlyContinue)) { return $false }
    $rest = @($Command | Select-Object -Skip 1)
    & $exe @rest -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>$null | Out-Null
    return ($LASTEXITCODE -eq 0)
}

function Find-Python {
    $candidates = @()
    if ($env:BOREALIS_PYTHON) { $candidates += , @($env:BOREALIS_PYTHON) }
    $candidates += , @('py', '-3.13')
    $candidates += , @('py', '-3.12')
    $candidates += , @('py', '-3.11')
    $candidates += , @('python3')
    $candidates += , @('python')
    foreach ($candidate in $candidates) {
        if (Test-Python $candidate) { return , $candidate }
    }
    [Console]::Error.WriteLine('Borealis.ps1: Python 3.11 or newer is needed (install it from python.org, or set BOREALIS_PYTHON to its path)')
    exit 1
}

function Invoke-Checked([string]$Exe, [string[]]$Arguments) {
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

function Initialize-Venv {
    $want = (Get-FileHash -Algorithm SHA256 (Join-Path $Root 'pyproject.toml')).Hash.ToLowerInvariant()
    if ((Test-Path $VenvPython) -and (Test-Path $Stamp) -and ((Get-Content $Stamp -Raw).Trim() -eq $want)) {
        return
    }
    $python = Find-Python
    [Console]::Error.WriteLine("Borealis.ps1: setting up $Venv (first run; takes a minute)")
    if (-not (Test-Path $VenvPython)) {
        $exe = $python[0]
        $rest = @($python | Select-Object -Skip 1)
        & $exe @rest -m venv $Venv
        if ($LASTEXITCODE -ne 0) {
            [Console]::Error.WriteLine('Borealis.ps1: cannot create a virtual environment')
            exit 1
        }
    }
    Invoke-Checked $VenvPython @('-m', 'pip', 'install', '--quiet', '--upgrade', 'pip')
    Invoke-Checked $VenvPython @('-m', 'pip', 'install', '--quiet', '-e', "$Root[dev]")
    Set-Content -Path $Stamp -Value $want -Encoding ascii
}

function Invoke-Tests([string[]]$PytestArgs) {
    Push-Location $Root
    try {
        $scripts = Join-Path $Venv 'Scripts'
        Invoke-Checked (Join-Path $scripts 'ruff.exe') @('check', 'src', 'tests', 'bench')
        Invoke-Checked (Join-Path $scripts 'ruff.exe') @('format', '--check', 'src', 'tests', 'bench')
        Invoke-Checked (Join-Path $scripts 'mypy.exe') @()
        Invoke-Checked (Join-Path $scripts 'lint-imports.exe') @()
        & $VenvPython -m pytest @PytestArgs
        $status = $LASTEXITCODE
        if ($status -eq 5) {
            [Console]::Error.WriteLine('Borealis.ps1: pytest collected no tests; that is a failure')
            exit 1
        }
        exit $status
    }
    finally {
        Pop-Location
    }
}

$Argv = @($args)  # the script's own arguments, taken before any block could shadow $args
Initialize-Venv
$First = if ($Argv.Count -gt 0) { $Argv[0] } else { '' }
$Rest = @($Argv | Select-Object -Skip 1)
if ($First -eq 'test') { Invoke-Tests $Rest }
if ($First -eq 'demo') { & $VenvPython -m borealis demo @Rest; exit $LASTEXITCODE }
& $VenvPython -m borealis @Argv
exit $LASTEXITCODE
