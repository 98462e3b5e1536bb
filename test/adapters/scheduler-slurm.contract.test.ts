// The Scheduler contract against real Slurm 22.05: two single-node clusters (for moves), each with
// munged, slurmctld and slurmd started by this file and stopped after it, and FlexLon's shipped
// job_submit.lua so jobs of partition `batch` arrive held by FlexLon.
import { schedulerContract } from '../contract/scheduler.contract.ts';
import { slurmAvailable } from '../helpers/slurm.ts';
import { slurmContractEnv } from '../helpers/slurm-contract.ts';

const missing = slurmAvailable();
if (missing) throw new Error(missing);

schedulerContract('Slurm 22.05 (real slurmctld + slurmd)', () => slurmContractEnv(['contracta', 'contractb']));
