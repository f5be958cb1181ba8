include $(sort $(wildcard $(BR2_EXTERNAL_IOT_JOBS_AGENT_PATH)/package/*/*.mk))
