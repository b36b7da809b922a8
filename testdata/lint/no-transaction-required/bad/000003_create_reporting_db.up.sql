create database reporting;
