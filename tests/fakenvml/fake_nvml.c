/*
 * A stand-in for the NVIDIA driver's libnvidia-ml.so.1, for tests on machines without a GPU.
 *
 * It replaces the driver only at the C ABI: the unmodified pynvml loads it with
 * CDLL("libnvidia-ml.so.1"), so its ctypes structs, version constants and error mapping are
 * exercised exactly as against a real driver. Compiled against NVIDIA's own nvml.h so that a
 * signature or struct mistake here is a compile error, not a silently passing test.
 *
 * Values come from a text file named by $FAKE_NVML_CONFIG, re-read on every call so that a
 * test can change a GPU between two samples:
 *
 *     device_count=2
 *     driver_version=550.54.15
 *     gpu0.name=NVIDIA H100 80GB HBM3
 *     gpu0.util_gpu=87
 *     gpu0.processes=4242:1073741824,4243:2147483648
 *     gpu1.fan_speed=!3          <- "!N": this call returns NVML error N (3 = Not Supported)
 *     gpu1.lost=1                <- every call on gpu1 returns NVML_ERROR_GPU_IS_LOST
 *     init=!9                    <- nvmlInit fails with NVML_ERROR_DRIVER_NOT_LOADED
 *     gpu1.hang=memory           <- the memory call on gpu1 sleeps while this line is there
 *                                   ("utilization" too), as a driver that stopped answering
 *     init=hang                  <- so does nvmlInit
 *     gpu0.nvlink_rx_kib=10,20   <- NVLink payload KiB per link (field values 139 / 138 with
 *     gpu0.nvlink_tx_kib=5,7        the link as scope id); gpuN.field_values=!N fails the call
 *     gpu0.process_util=4242:87:40:1700000000000000
 *                                <- per-process samples, pid:sm%:memory%:timestamp in us; a
 *                                   call is answered only with samples newer than the
 *                                   timestamp it passes (NOT_FOUND when none), as NVML is
 *
 * Built with -DFAKE_NVML_OLD_DRIVER it leaves out the symbols newer drivers added
 * (memory v2, _v3 process calls), as a driver older than R510 would.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nvml.h"

#define MAX_DEVICES 64
#define MAX_PROCESSES 256

struct nvmlDevice_st {
    unsigned int index;
};

static struct nvmlDevice_st devices[MAX_DEVICES];
static int initialised = 0;

/* Look up `key` in the config file; 1 if found (value copied to out), else 0. */
static int lookup(const char *key, char *out, size_t out_size) {
    const char *path = getenv("FAKE_NVML_CONFIG");
    if (path == NULL) return 0;
    FILE *file = fopen(path, "r");
    if (file == NULL) return 0;
    char line[4096];
    size_t key_len = strlen(key);
    int found = 0;
    while (fgets(line, sizeof line, file) != NULL) {
        if (strncmp(line, key, key_len) == 0 && line[key_len] == '=') {
            char *value = line + key_len + 1;
            value[strcspn(value, "\r\n")] = '\0';
            snprintf(out, out_size, "%s", value);
            found = 1; /* later lines win, so keep reading */
        }
    }
    fclose(file);
    return found;
}

/* "!N" in a value means: return NVML error N from this call. */
static int injected_error(const char *value, nvmlReturn_t *error) {
    if (value[0] != '!') return 0;
    *error = (nvmlReturn_t)atoi(value + 1);
    return 1;
}

static nvmlReturn_t device_check(nvmlDevice_t device) {
    char value[64];
    char key[64];
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if (device == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    snprintf(key, sizeof key, "gpu%u.lost", device->index);
    if (lookup(key, value, sizeof value) && strcmp(value, "1") == 0) return NVML_ERROR_GPU_IS_LOST;
    return NVML_SUCCESS;
}

/* Read gpuN.<field>: NVML_SUCCESS with out filled, the injected error, or NOT_SUPPORTED. */
static nvmlReturn_t device_value(nvmlDevice_t device, const char *field, char *out, size_t size) {
    nvmlReturn_t status = device_check(device);
    if (status != NVML_SUCCESS) return status;
    char key[128];
    snprintf(key, sizeof key, "gpu%u.%s", device->index, field);
    if (!lookup(key, out, size)) return NVML_ERROR_NOT_SUPPORTED;
    nvmlReturn_t error;
    if (injected_error(out, &error)) return error;
    return NVML_SUCCESS;
}

static nvmlReturn_t device_uint(nvmlDevice_t device, const char *field, unsigned int *out) {
    char value[64];
    if (out == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = device_value(device, field, value, sizeof value);
    if (status == NVML_SUCCESS) *out = (unsigned int)strtoul(value, NULL, 10);
    return status;
}

static nvmlReturn_t device_ull(nvmlDevice_t device, const char *field, unsigned long long *out) {
    char value[64];
    nvmlReturn_t status = device_value(device, field, value, sizeof value);
    if (status == NVML_SUCCESS) *out = strtoull(value, NULL, 10);
    return status;
}

static nvmlReturn_t device_string(nvmlDevice_t device, const char *field, char *out,
                                  unsigned int length) {
    char value[256];
    if (out == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = device_value(device, field, value, sizeof value);
    if (status != NVML_SUCCESS) return status;
    if (strlen(value) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(out, value, strlen(value) + 1);
    return NVML_SUCCESS;
}

/* gpuN.hang=<call>: that call does not return while the line says so. */
static void scripted_hang(nvmlDevice_t device, const char *call) {
    char key[64];
    char value[64];
    if (device == NULL) return;
    snprintf(key, sizeof key, "gpu%u.hang", device->index);
    while (lookup(key, value, sizeof value) && strcmp(value, call) == 0) {
        struct timespec pause = {0, 50L * 1000000L};
        nanosleep(&pause, NULL);
    }
}

/* ---- library ---------------------------------------------------------------------------- */

nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    char value[64];
    nvmlReturn_t error;
    while (lookup("init", value, sizeof value) && strcmp(value, "hang") == 0) {
        struct timespec pause = {0, 50L * 1000000L}; /* init=hang: a driver that never answers */
        nanosleep(&pause, NULL);
    }
    if (lookup("init", value, sizeof value) && injected_error(value, &error)) return error;
    for (unsigned int i = 0; i < MAX_DEVICES; i++) devices[i].index = i;
    initialised = 1;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }

nvmlReturn_t nvmlShutdown(void) {
    initialised = 0;
    return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result) {
    /* The driver's own wording, which pynvml passes through into exception messages. */
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_IRQ_ISSUE: return "Interrupt Request Issue";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_UNKNOWN: return "Unknown Error";
    default: return "Unknown Error";
    }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    char value[96];
    nvmlReturn_t error;
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if (!lookup("driver_version", value, sizeof value)) snprintf(value, sizeof value, "550.54.15");
    if (injected_error(value, &error)) return error;
    if (strlen(value) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(version, value, strlen(value) + 1);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount) {
    char value[32];
    nvmlReturn_t error;
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if (!lookup("device_count", value, sizeof value)) snprintf(value, sizeof value, "0");
    if (injected_error(value, &error)) return error;
    unsigned int count = (unsigned int)strtoul(value, NULL, 10);
    *deviceCount = count > MAX_DEVICES ? MAX_DEVICES : count;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    unsigned int count = 0;
    nvmlReturn_t status = nvmlDeviceGetCount_v2(&count);
    if (status != NVML_SUCCESS) return status;
    if (index >= count) return NVML_ERROR_INVALID_ARGUMENT;
    *device = &devices[index];
    return device_check(*device);
}

/* ---- identity --------------------------------------------------------------------------- */

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    return device_string(device, "name", name, length);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    return device_string(device, "uuid", uuid, length);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    if (pci == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    memset(pci, 0, sizeof *pci);
    return device_string(device, "bus_id", pci->busId, NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE);
}

/* ---- memory ----------------------------------------------------------------------------- */

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    if (memory == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    scripted_hang(device, "memory");
    nvmlReturn_t status = device_ull(device, "memory_total", &memory->total);
    if (status != NVML_SUCCESS) return status;
    status = device_ull(device, "memory_used", &memory->used);
    if (status != NVML_SUCCESS) return status;
    memory->free = memory->total - memory->used;
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_OLD_DRIVER
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
    if (memory == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    if (memory->version != nvmlMemory_v2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    scripted_hang(device, "memory");
    nvmlReturn_t status = device_ull(device, "memory_total", &memory->total);
    if (status != NVML_SUCCESS) return status;
    status = device_ull(device, "memory_used", &memory->used);
    if (status != NVML_SUCCESS) return status;
    memory->reserved = 0;
    if (device_ull(device, "memory_reserved", &memory->reserved) != NVML_SUCCESS) {
        memory->reserved = 0;
    }
    memory->free = memory->total - memory->used - memory->reserved;
    return NVML_SUCCESS;
}
#endif

/* ---- utilisation, thermals, power, clocks ---------------------------------------------- */

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization) {
    if (utilization == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    scripted_hang(device, "utilization");
    nvmlReturn_t status = device_uint(device, "util_gpu", &utilization->gpu);
    if (status != NVML_SUCCESS) return status;
    return device_uint(device, "util_memory", &utilization->memory);
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType,
                                      unsigned int *temp) {
    if (sensorType != NVML_TEMPERATURE_GPU) return NVML_ERROR_INVALID_ARGUMENT;
    return device_uint(device, "temperature", temp);
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
    return device_uint(device, "power_usage", power);
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit) {
    return device_uint(device, "power_limit", limit);
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type,
                                    unsigned int *clock) {
    switch (type) {
    case NVML_CLOCK_SM: return device_uint(device, "sm_clock", clock);
    case NVML_CLOCK_MEM: return device_uint(device, "mem_clock", clock);
    case NVML_CLOCK_GRAPHICS: return device_uint(device, "graphics_clock", clock);
    default: return NVML_ERROR_NOT_SUPPORTED;
    }
}

/* ---- processes -------------------------------------------------------------------------- */

/* gpuN.<field>=pid:bytes,pid:bytes  ("-" for bytes = not available, as under WDDM/MIG). */
static nvmlReturn_t running_processes(nvmlDevice_t device, const char *field,
                                      unsigned int *infoCount, nvmlProcessInfo_t *infos) {
    char value[4096];
    if (infoCount == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = device_value(device, field, value, sizeof value);
    if (status == NVML_ERROR_NOT_SUPPORTED) value[0] = '\0'; /* unset: no processes */
    else if (status != NVML_SUCCESS) return status;

    nvmlProcessInfo_t found[MAX_PROCESSES];
    unsigned int count = 0;
    for (char *item = strtok(value, ","); item != NULL && count < MAX_PROCESSES;
         item = strtok(NULL, ",")) {
        char *colon = strchr(item, ':');
        found[count].pid = (unsigned int)strtoul(item, NULL, 10);
        found[count].usedGpuMemory = (colon == NULL || colon[1] == '-')
                                         ? NVML_VALUE_NOT_AVAILABLE
                                         : strtoull(colon + 1, NULL, 10);
        found[count].gpuInstanceId = 0xFFFFFFFFu;
        found[count].computeInstanceId = 0xFFFFFFFFu;
        count++;
    }
    /* The real driver's protocol: report the count, and INSUFFICIENT_SIZE when it won't fit. */
    if (count == 0) {
        *infoCount = 0;
        return NVML_SUCCESS;
    }
    if (infos == NULL || *infoCount < count) {
        *infoCount = count;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    memcpy(infos, found, count * sizeof *infos);
    *infoCount = count;
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_OLD_DRIVER
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                     nvmlProcessInfo_t *infos) {
    return running_processes(device, "processes", infoCount, infos);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device,
                                                      unsigned int *infoCount,
                                                      nvmlProcessInfo_t *infos) {
    return running_processes(device, "graphics_processes", infoCount, infos);
}
#endif

/* R450-R470 drivers: the same 24-byte struct under the _v2 name. */
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
                                                     nvmlProcessInfo_t *infos) {
    return running_processes(device, "processes", infoCount, infos);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t device,
                                                      unsigned int *infoCount,
                                                      nvmlProcessInfo_t *infos) {
    return running_processes(device, "graphics_processes", infoCount, infos);
}

/* gpuN.process_util=pid:sm:mem:timestamp,...: the samples newer than lastSeenTimeStamp. The
 * driver's protocol: NULL buffer -> count and INSUFFICIENT_SIZE; no newer sample -> NOT_FOUND. */
nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device,
                                             nvmlProcessUtilizationSample_t *utilization,
                                             unsigned int *processSamplesCount,
                                             unsigned long long lastSeenTimeStamp) {
    char value[4096];
    if (processSamplesCount == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = device_value(device, "process_util", value, sizeof value);
    if (status != NVML_SUCCESS) return status;

    nvmlProcessUtilizationSample_t found[MAX_PROCESSES];
    unsigned int count = 0;
    for (char *item = strtok(value, ","); item != NULL && count < MAX_PROCESSES;
         item = strtok(NULL, ",")) {
        nvmlProcessUtilizationSample_t sample;
        memset(&sample, 0, sizeof sample);
        char *rest = item;
        sample.pid = (unsigned int)strtoul(rest, &rest, 10);
        if (*rest == ':') sample.smUtil = (unsigned int)strtoul(rest + 1, &rest, 10);
        if (*rest == ':') sample.memUtil = (unsigned int)strtoul(rest + 1, &rest, 10);
        if (*rest == ':') sample.timeStamp = strtoull(rest + 1, &rest, 10);
        if (sample.timeStamp > lastSeenTimeStamp) found[count++] = sample;
    }
    if (count == 0) return NVML_ERROR_NOT_FOUND;
    if (utilization == NULL || *processSamplesCount < count) {
        *processSamplesCount = count;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    memcpy(utilization, found, count * sizeof *utilization);
    *processSamplesCount = count;
    return NVML_SUCCESS;
}

/* ---- depth: fans, clock limits, P-state, clock-event reasons, energy ------------------- */

nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed) {
    return device_uint(device, "fan_speed", speed);
}

nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, nvmlClockType_t type,
                                       unsigned int *clock) {
    switch (type) {
    case NVML_CLOCK_SM: return device_uint(device, "max_sm_clock", clock);
    case NVML_CLOCK_MEM: return device_uint(device, "max_mem_clock", clock);
    default: return NVML_ERROR_NOT_SUPPORTED;
    }
}

nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, nvmlPstates_t *pState) {
    unsigned int value = 0;
    if (pState == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = device_uint(device, "pstate", &value);
    if (status == NVML_SUCCESS) *pState = (nvmlPstates_t)value;
    return status;
}

/* gpuN.clocks_event_reasons: the bit mask, in decimal or 0x hex. */
static nvmlReturn_t clock_reasons(nvmlDevice_t device, unsigned long long *reasons) {
    char value[64];
    if (reasons == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = device_value(device, "clocks_event_reasons", value, sizeof value);
    if (status == NVML_SUCCESS) *reasons = strtoull(value, NULL, 0);
    return status;
}

#ifndef FAKE_NVML_OLD_DRIVER
/* R535 renamed "throttle reasons" to "clocks event reasons"; older drivers lack this name. */
nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device,
                                                    unsigned long long *clocksEventReasons) {
    return clock_reasons(device, clocksEventReasons);
}
#endif

nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device,
                                                       unsigned long long *clocksThrottleReasons) {
    return clock_reasons(device, clocksThrottleReasons);
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy) {
    if (energy == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    return device_ull(device, "energy_mj", energy);
}

/* ---- ECC, remapped rows, retired pages -------------------------------------------------- */

nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t device, nvmlEnableState_t *current,
                                  nvmlEnableState_t *pending) {
    unsigned int value = 0;
    if (current == NULL || pending == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = device_uint(device, "ecc_mode", &value);
    if (status != NVML_SUCCESS) return status;
    *current = *pending = value ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
    return NVML_SUCCESS;
}

/* gpuN.ecc_<corrected|uncorrected>_<volatile|aggregate>=count */
nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t errorType,
                                         nvmlEccCounterType_t counterType,
                                         unsigned long long *eccCounts) {
    char field[64];
    if (eccCounts == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    snprintf(field, sizeof field, "ecc_%s_%s",
             errorType == NVML_MEMORY_ERROR_TYPE_CORRECTED ? "corrected" : "uncorrected",
             counterType == NVML_VOLATILE_ECC ? "volatile" : "aggregate");
    return device_ull(device, field, eccCounts);
}

/* gpuN.remapped_rows=correctable,uncorrectable,pending,failure */
nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned int *corrRows,
                                       unsigned int *uncRows, unsigned int *isPending,
                                       unsigned int *failureOccurred) {
    char value[128];
    if (!corrRows || !uncRows || !isPending || !failureOccurred) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = device_value(device, "remapped_rows", value, sizeof value);
    if (status != NVML_SUCCESS) return status;
    if (sscanf(value, "%u,%u,%u,%u", corrRows, uncRows, isPending, failureOccurred) != 4)
        return NVML_ERROR_UNKNOWN;
    return NVML_SUCCESS;
}

/* gpuN.retired_pages_sbe / _dbe = count; gpuN.retired_pages_pending = 0|1 (pre-Ampere GPUs). */
nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t device, nvmlPageRetirementCause_t cause,
                                       unsigned int *pageCount, unsigned long long *addresses) {
    unsigned int count = 0;
    if (pageCount == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = device_uint(
        device,
        cause == NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS ? "retired_pages_sbe"
                                                                           : "retired_pages_dbe",
        &count);
    if (status != NVML_SUCCESS) return status;
    if (addresses == NULL || *pageCount < count) {
        *pageCount = count;
        return count == 0 ? NVML_SUCCESS : NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned int i = 0; i < count; i++) addresses[i] = 0x1000ull * (i + 1);
    *pageCount = count;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t device,
                                                    nvmlEnableState_t *isPending) {
    unsigned int value = 0;
    if (isPending == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = device_uint(device, "retired_pages_pending", &value);
    if (status == NVML_SUCCESS) *isPending = value ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
    return status;
}

/* ---- PCIe, NVLink, MIG, CUDA driver version --------------------------------------------- */

nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t device, unsigned int *currLinkGen) {
    return device_uint(device, "pcie_gen", currLinkGen);
}

nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t device, unsigned int *currLinkWidth) {
    return device_uint(device, "pcie_width", currLinkWidth);
}

nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t device, unsigned int *maxLinkGen) {
    return device_uint(device, "pcie_max_gen", maxLinkGen);
}

nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t device, unsigned int *maxLinkWidth) {
    return device_uint(device, "pcie_max_width", maxLinkWidth);
}

/* gpuN.nvlink=1,1,1,0 (one entry per link: active or not); links past the list are invalid,
 * as the driver answers for link numbers past NVML_NVLINK_MAX_LINKS on that GPU. */
nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t device, unsigned int link,
                                      nvmlEnableState_t *isActive) {
    char value[256];
    if (isActive == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = device_value(device, "nvlink", value, sizeof value);
    if (status != NVML_SUCCESS) return status;
    unsigned int at = 0;
    for (char *item = strtok(value, ","); item != NULL; item = strtok(NULL, ","), at++) {
        if (at == link) {
            *isActive = atoi(item) ? NVML_FEATURE_ENABLED : NVML_FEATURE_DISABLED;
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

/* The n-th comma-separated number of `list` into *out; 0 when the list is shorter. */
static int list_item(char *list, unsigned int n, unsigned long long *out) {
    unsigned int at = 0;
    char *rest = NULL;
    for (char *item = strtok_r(list, ",", &rest); item != NULL;
         item = strtok_r(NULL, ",", &rest), at++) {
        if (at == n) {
            *out = strtoull(item, NULL, 10);
            return 1;
        }
    }
    return 0;
}

/* One NVLink data counter (field 138 TX, 139 RX) of link `scope`, from
 * gpuN.nvlink_tx_kib=1000,2000 / gpuN.nvlink_rx_kib=... (KiB since the driver loaded, one entry
 * per link; a test rewrites them between samples). A missing key or link is Not Supported. */
static nvmlReturn_t nvlink_counter(nvmlDevice_t device, unsigned int field, unsigned int scope,
                                   unsigned long long *out) {
    char value[512];
    nvmlReturn_t status = device_value(
        device, field == NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX ? "nvlink_tx_kib" : "nvlink_rx_kib",
        value, sizeof value);
    if (status != NVML_SUCCESS) return status;
    return list_item(value, scope, out) ? NVML_SUCCESS : NVML_ERROR_NOT_SUPPORTED;
}

/* gpuN.field_values=!N fails the whole call (an old driver answers so); otherwise each value
 * carries its own return code, as the real call does: NVLink data counters are answered,
 * every other field id is Not Supported. */
nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount,
                                      nvmlFieldValue_t *values) {
    char value[64];
    char key[64];
    nvmlReturn_t status = device_check(device);
    if (status != NVML_SUCCESS) return status;
    if (values == NULL || valuesCount < 0) return NVML_ERROR_INVALID_ARGUMENT;
    snprintf(key, sizeof key, "gpu%u.field_values", device->index);
    if (lookup(key, value, sizeof value) && injected_error(value, &status)) return status;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    for (int i = 0; i < valuesCount; i++) {
        nvmlFieldValue_t *entry = &values[i];
        entry->timestamp = (long long)now.tv_sec * 1000000LL + now.tv_nsec / 1000;
        entry->latencyUsec = 0;
        entry->valueType = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
        if (entry->fieldId == NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX
            || entry->fieldId == NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX) {
            entry->nvmlReturn =
                nvlink_counter(device, entry->fieldId, entry->scopeId, &entry->value.ullVal);
        } else {
            entry->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
        }
    }
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode,
                                  unsigned int *pendingMode) {
    if (currentMode == NULL || pendingMode == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = device_uint(device, "mig_mode", currentMode);
    if (status == NVML_SUCCESS) *pendingMode = *currentMode;
    return status;
}

static nvmlReturn_t cuda_driver_version(int *version) {
    char value[32];
    nvmlReturn_t error;
    if (version == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    if (!lookup("cuda_driver_version", value, sizeof value)) snprintf(value, sizeof value, "12040");
    if (injected_error(value, &error)) return error;
    *version = atoi(value);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion) {
    return cuda_driver_version(cudaDriverVersion);
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion) {
    return cuda_driver_version(cudaDriverVersion);
}

nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index) {
    if (index == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = device_check(device);
    if (status == NVML_SUCCESS) *index = device->index;
    return status;
}

/* ---- events: scripted XIDs ---------------------------------------------------------------
 *
 *     gpu0.xid=79,48      <- XIDs this GPU raises, in order; each is delivered once per
 *                            process, so a test appends a code to make a new XID happen.
 *     gpu0.events=!3      <- nvmlDeviceGetSupportedEventTypes / Register fail with this error
 */

struct nvmlEventSet_st {
    unsigned long long registered[MAX_DEVICES]; /* event mask per device index */
    unsigned int delivered[MAX_DEVICES];        /* XIDs of gpuN.xid already handed out */
};

nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if (set == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    *set = calloc(1, sizeof **set);
    return *set == NULL ? NVML_ERROR_MEMORY : NVML_SUCCESS;
}

nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
    free(set);
    return NVML_SUCCESS;
}

static nvmlReturn_t events_allowed(nvmlDevice_t device) {
    char key[64];
    char value[64];
    nvmlReturn_t status = device_check(device);
    if (status != NVML_SUCCESS) return status;
    snprintf(key, sizeof key, "gpu%u.events", device->index);
    if (lookup(key, value, sizeof value) && injected_error(value, &status)) return status;
    return NVML_SUCCESS; /* unset: every GPU supports XID events */
}

nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t device, unsigned long long *types) {
    if (types == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = events_allowed(device);
    if (status == NVML_SUCCESS) *types = nvmlEventTypeXidCriticalError | nvmlEventTypeSingleBitEccError
                                         | nvmlEventTypeDoubleBitEccError;
    return status;
}

nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes,
                                      nvmlEventSet_t set) {
    if (set == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t status = events_allowed(device);
    if (status == NVML_SUCCESS) set->registered[device->index] |= eventTypes;
    return status;
}

/* The next undelivered XID of device `index`, or 0. */
static unsigned long long next_xid(nvmlEventSet_t set, unsigned int index) {
    char key[32];
    char value[512];
    snprintf(key, sizeof key, "gpu%u.xid", index);
    if (!lookup(key, value, sizeof value)) return 0;
    unsigned int position = 0;
    char *rest = NULL;
    for (char *item = strtok_r(value, ",", &rest); item != NULL;
         item = strtok_r(NULL, ",", &rest), position++) {
        if (position == set->delivered[index]) {
            set->delivered[index]++;
            return strtoull(item, NULL, 10);
        }
    }
    return 0;
}

nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    if (!initialised) return NVML_ERROR_UNINITIALIZED;
    if (set == NULL || data == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    const unsigned int step_ms = 100; /* a real driver sleeps in the kernel; keep polling cheap */
    for (unsigned int waited = 0;; waited += step_ms) {
        for (unsigned int index = 0; index < MAX_DEVICES; index++) {
            if (!(set->registered[index] & nvmlEventTypeXidCriticalError)) continue;
            unsigned long long xid = next_xid(set, index);
            if (xid == 0) continue;
            memset(data, 0, sizeof *data);
            data->device = &devices[index];
            data->eventType = nvmlEventTypeXidCriticalError;
            data->eventData = xid;
            data->gpuInstanceId = data->computeInstanceId = 0xFFFFFFFFu;
            return NVML_SUCCESS;
        }
        if (waited >= timeoutms) return NVML_ERROR_TIMEOUT;
        struct timespec pause = {0, (long)step_ms * 1000000L};
        nanosleep(&pause, NULL);
    }
}
