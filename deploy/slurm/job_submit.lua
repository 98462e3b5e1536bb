-- FlexLon admission hold for Slurm (job_submit/lua). Jobs submitted to the partitions below arrive
-- held, marked as held by FlexLon, so the Compute-Flex agent can plan them before they start, and
-- users keep submitting exactly as before. This is what Kueue does for Kubernetes by creating Jobs
-- suspended. The agent releases a job (scontrol release) when its planned start comes; a job an
-- operator holds by hand carries no mark, and FlexLon never releases it.
--
-- Install: copy next to slurm.conf, set JobSubmitPlugins=lua in slurm.conf, list the partitions
-- FlexLon manages here, then `scontrol reconfigure`. Jobs of other partitions are untouched.
-- If the agent is stopped, release the held jobs with:
--   scontrol -o show jobs | awk '/JobState=PENDING/ && /AdminComment=flexlon:held/ {sub("JobId=", "", $1); print $1}' | xargs -r scontrol release
-- (or set FLEXLON_PARTITIONS = {} and reconfigure, so new jobs are no longer held).

FLEXLON_PARTITIONS = { ["batch"] = true }
FLEXLON_MARK = "flexlon:held"

local function default_partition()
  -- Jobs without -p go to the default partition; name it here if FlexLon manages it.
  return "batch"
end

function slurm_job_submit(job_desc, part_list, submit_uid)
  local partition = job_desc.partition or default_partition()
  -- A job the user submitted held (sbatch --hold: priority 0) stays the user's hold, unmarked.
  if FLEXLON_PARTITIONS[partition] and job_desc.priority ~= 0 then
    -- Priority 0 is how Slurm represents a held job (the same as `sbatch --hold`).
    job_desc.priority = 0
    if job_desc.admin_comment == nil or job_desc.admin_comment == "" then
      job_desc.admin_comment = FLEXLON_MARK
    else
      job_desc.admin_comment = job_desc.admin_comment .. " " .. FLEXLON_MARK
    end
  end
  return slurm.SUCCESS
end

function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)
  return slurm.SUCCESS
end

return slurm.SUCCESS
